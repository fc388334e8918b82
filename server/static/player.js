// The selected video: its player, a storyboard timeline (hover to preview, click to seek), and the
// trim window set from the playhead with the buttons or the `i` / `o` keys, as editing tools do.

import { api, blobUrl, fetchWithToken } from './api.js'

const $ = (selector) => document.querySelector(selector)
const player = $('#player')
let video = null
let storyboard = null // { cues: [{start, end, x, y, w, h}], sprite: object URL }

export function currentVideo () { return video }

export async function play (chosen) {
  video = chosen
  storyboard = null
  delete $('#timeline').dataset.storyboard
  $('#viewer').hidden = false
  $('#viewer-name').textContent = chosen.name
  $('#trim-start').value = (0).toFixed(3)
  $('#trim-end').value = chosen.duration.toFixed(3)
  drawMarks()
  const { url } = await api('GET', `/api/videos/${chosen.id}/playback/`)
  player.src = url
  loadStoryboard(chosen).catch(() => {}) // previews are a help, not a need
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
  for (const [mark, field] of [['#timeline-in', '#trim-start'], ['#timeline-out', '#trim-end']]) {
    const value = Number($(field).value)
    $(mark).style.display = Number.isFinite(value) ? 'block' : 'none'
    $(mark).style.left = `${(value / video.duration) * 100}%`
  }
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
