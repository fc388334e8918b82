// The selected video: its player, a storyboard timeline (hover to preview, click to seek), and the
// trim window set from the playhead with the buttons or the `i` / `o` keys, as editing tools do,
// or typed (seconds or HH:MM:SS.mmm), shaded on the timeline between its in and out marks.

import { api, blobUrl, fetchWithToken } from './api.js'
import { parseTime } from './timecode.js'

const $ = (selector) => document.querySelector(selector)
const player = $('#player')
let video = null
let storyboard = null // { cues: [{start, end, x, y, w, h}], sprite: object URL }
let adaptive = null // the hls.js instance playing the ladder, when there is one

export function currentVideo () { return video }

export async function play (chosen) {
  video = chosen
  storyboard = null
  delete $('#timeline').dataset.storyboard
  $('#viewer').hidden = false
  keepInView($('#viewer'))
  $('#viewer-name').textContent = chosen.name
  $('#trim-start').value = (0).toFixed(3)
  $('#trim-end').value = chosen.duration.toFixed(3)
  drawMarks()
  const { url, hls_url: ladder } = await api('GET', `/api/videos/${chosen.id}/playback/`)
  playUrls(url, ladder)
  loadStoryboard(chosen).catch(() => {}) // previews are a help, not a need
}

// The adaptive ladder through hls.js once it is made (asking for playback starts it), else the
// file itself; any fatal hls.js error falls back to the file.
function playUrls (file, ladder) {
  if (adaptive) { adaptive.destroy(); adaptive = null }
  if (ladder && window.Hls && window.Hls.isSupported()) {
    adaptive = new window.Hls()
    adaptive.on(window.Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) { adaptive.destroy(); adaptive = null; player.src = file }
    })
    adaptive.loadSource(ladder)
    adaptive.attachMedia(player)
  } else if (ladder && player.canPlayType('application/vnd.apple.mpegurl')) {
    player.src = ladder
  } else {
    player.src = file
  }
}

async function loadStoryboard (chosen) {
  for (let attempt = 0; attempt < 30 && video === chosen; attempt++) {
    const response = await fetchWithToken(`/api/videos/${chosen.id}/storyboard.vtt`)
    if (response.status === 200) {
      const cues = parseVtt(await response.text())
      if (cues.length && video === chosen) {
        storyboard = { cues, sprite: await blobUrl(cues[0].url) }
        $('#timeline').dataset.storyboard = 'ready'
      }
      return
    }
    const wait = Number(response.headers.get('Retry-After') || 2)
    await new Promise((resolve) => setTimeout(resolve, wait * 1000))
  }
}

function parseVtt (text) {
  const clock = (value) => value.split(':').reduce((total, part) => total * 60 + Number(part), 0)
  return text.split(/\n\n+/).slice(1).map((block) => block.trim().split('\n')).filter((lines) => lines.length >= 2)
    .map(([timing, target]) => {
      const [start, end] = timing.split(' --> ').map(clock)
      const [url, fragment] = target.split('#xywh=')
      const [x, y, w, h] = fragment.split(',').map(Number)
      return { start, end, url, x, y, w, h }
    })
}

// Selecting a video low in a long list must not leave its player out of sight (on a phone the
// player is below the list; on a desktop its column stays in view by itself).
function keepInView (element) {
  const box = element.getBoundingClientRect()
  if (box.top < 0 || box.top > window.innerHeight * 0.6) element.scrollIntoView({ block: 'start' })
}

function fractionAt (event) {
  const box = $('#timeline').getBoundingClientRect()
  return Math.min(1, Math.max(0, (event.clientX - box.left) / box.width))
}

function showPreview (event) {
  if (!video) return
  const time = fractionAt(event) * video.duration
  const preview = $('#preview')
  preview.hidden = false
  preview.style.left = `${fractionAt(event) * 100}%`
  preview.querySelector('span').textContent = time.toFixed(3)
  const cue = storyboard?.cues.find((c) => time >= c.start && time < c.end) ?? storyboard?.cues.at(-1)
  const picture = preview.querySelector('.picture')
  picture.hidden = !cue
  if (cue) {
    picture.style.backgroundImage = `url(${storyboard.sprite})`
    picture.style.backgroundPosition = `-${cue.x}px -${cue.y}px`
  }
}

function drawMarks () {
  if (!video) return
  const at = (value) => `${(Math.min(Math.max(value, 0), video.duration) / video.duration) * 100}%`
  const [start, end] = [parseTime($('#trim-start').value), parseTime($('#trim-end').value)]
  for (const [mark, value] of [['#timeline-in', start], ['#timeline-out', end]]) {
    $(mark).style.display = Number.isNaN(value) ? 'none' : 'block'
    $(mark).style.left = at(value)
  }
  const shaded = $('#timeline-window')
  shaded.hidden = Number.isNaN(start) || Number.isNaN(end) || end <= start
  shaded.style.left = at(start)
  shaded.style.right = `calc(100% - ${at(end)})`
}

function setFromPlayhead (field) {
  $(field).value = player.currentTime.toFixed(3)
  drawMarks()
}

export function setUpPlayer () {
  const timeline = $('#timeline')
  timeline.addEventListener('mousemove', showPreview)
  timeline.addEventListener('mouseleave', () => { $('#preview').hidden = true })
  timeline.addEventListener('click', (event) => { if (video) player.currentTime = fractionAt(event) * video.duration })
  player.addEventListener('timeupdate', () => {
    if (video) $('#timeline-played').style.width = `${(player.currentTime / video.duration) * 100}%`
  })
  $('#set-start').addEventListener('click', () => setFromPlayhead('#trim-start'))
  $('#set-end').addEventListener('click', () => setFromPlayhead('#trim-end'))
  $('#trim-start').addEventListener('input', drawMarks)
  $('#trim-end').addEventListener('input', drawMarks)
  document.addEventListener('keydown', (event) => {
    const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName)
    if (!video || typing || event.ctrlKey || event.metaKey || event.altKey) return
    if (event.key === 'i') setFromPlayhead('#trim-start')
    if (event.key === 'o') setFromPlayhead('#trim-end')
  })
}

export function closePlayer () {
  video = null
  player.removeAttribute('src')
  player.load()
  $('#viewer').hidden = true
}
