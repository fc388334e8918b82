// The page: sign in, upload with Uppy (tus), pick a video to play it, trim it from the player,
// merge in a chosen order, share and revoke, delete. Every asset comes from this server.

import { api, keepToken, session } from './api.js'
import {
  findVideo, forgetPoster, markCurrent, refreshLibrary, setUpLibrary, whenDeleteAsked, whenSelected,
} from './library.js'
import { addToMerge, clearMerge, forget, mergeOrder } from './merge.js'
import { closePlayer, currentVideo, play, setUpPlayer } from './player.js'
import { createShare, showShares } from './shares.js'
import { follow, whenResultOpened } from './tasks.js'
import { apiTime } from './timecode.js'

const $ = (selector) => document.querySelector(selector)

function showError (error) { $('#app-error').textContent = error.message }

// Runs a handler, showing the API's `detail` sentence when it fails.
function guarded (handler) {
  return (event) => {
    event?.preventDefault?.()
    Promise.resolve().then(() => handler(event)).then(() => { $('#app-error').textContent = '' }, showError)
  }
}

async function signIn (event) {
  event.preventDefault()
  const form = new FormData(event.target)
  const response = await fetch('/api-token-auth/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
  })
  const data = await response.json()
  if (!response.ok) { $('#login-error').textContent = data.detail; return }
  keepToken(data.token, form.get('username'))
  start()
}

function signedOut () {
  $('#app').hidden = true
  $('#login-section').hidden = false
  $('#sign-out').hidden = true
  $('#who').textContent = ''
}

async function select (video) {
  markCurrent(video.id)
  await play(video)
  await showShares(video)
}

async function trim (event) {
  const video = currentVideo()
  const form = new FormData(event.target)
  const task = await api('POST', `/api/videos/${video.id}/trim/`, {
    start_time: apiTime(form.get('start_time')), end_time: apiTime(form.get('end_time')), mode: form.get('mode'),
  })
  await finished(task, `trim of ${video.name}`, $('#trim-progress'))
}

async function merge () {
  const ids = mergeOrder()
  if (ids.length < 2) throw new Error('Add at least two videos to the merge first.')
  $('#merge').disabled = true // a second click while it is sent must not merge them twice
  let task
  try {
    task = await api('POST', '/api/videos/merge/', { video_ids: ids })
  } finally {
    $('#merge').disabled = false
  }
  clearMerge()
  await finished(task, `merge of ${ids.length} videos`, $('#merge-progress'))
}

async function finished (task, label, beside) {
  const done = await follow(task, label, beside)
  await refreshLibrary()
  if (done.status === 'failed') throw new Error(done.error.detail)
}

async function openResult (videoId) {
  await refreshLibrary()
  const video = findVideo(videoId)
  if (!video) throw new Error('That video has been deleted.')
  await select(video)
}

async function confirmDelete (video) {
  const dialog = $('#confirm-delete')
  $('#delete-name').textContent = video.name
  dialog.showModal()
  const answer = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }))
  if (answer !== 'delete') return
  await api('DELETE', `/api/videos/${video.id}/`)
  forget(video.id)
  forgetPoster(video.id)
  if (currentVideo()?.id === video.id) closePlayer()
  await refreshLibrary()
}

async function startUppy () {
  let module
  try {
    module = await import('/static/vendor/uppy/uppy.min.mjs')
  } catch {
    $('#uppy-missing').hidden = false
    return
  }
  const { Uppy, Dashboard, Tus } = module
  const uppy = new Uppy({ restrictions: { allowedFileTypes: ['video/*', '.mp4', '.mov', '.mkv', '.webm'] } })
    .use(Dashboard, { inline: true, target: '#uploader', height: 260, width: '100%', proudlyDisplayPoweredByUppy: false })
    .use(Tus, {
      endpoint: '/api/videos/chunked_upload/',
      headers: () => ({ Authorization: `Token ${session.token}` }),
      chunkSize: 32 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000],
    })
  uppy.on('upload-success', (file, response) => markRejected(uppy, file, response.uploadURL).catch(showError))
}

// The server takes every byte and then probes it: a file it rejects must not stay "complete" in
// Uppy. Its upload id is the video's id.
async function markRejected (uppy, file, uploadUrl) {
  const video = await api('GET', `/api/videos/${uploadUrl.split('/').pop()}/`)
  await refreshLibrary()
  if (video.status === 'rejected') {
    uppy.emit('upload-error', uppy.getFile(file.id), new Error(`${file.name} was not accepted: ${video.error}.`))
  }
}

function start () {
  $('#login-section').hidden = true
  $('#app').hidden = false
  $('#sign-out').hidden = false
  $('#who').textContent = session.name ?? ''
  refreshLibrary().catch(showError)
}

session.onSignedOut = signedOut
whenSelected(guarded(select))
whenDeleteAsked(guarded(confirmDelete))
whenResultOpened(guarded(openResult))
setUpLibrary()
setUpPlayer()
$('#login-form').addEventListener('submit', signIn)
$('#sign-out').addEventListener('click', () => { keepToken(null); signedOut() })
$('#refresh').addEventListener('click', guarded(refreshLibrary))
$('#trim-form').addEventListener('submit', guarded(trim))
$('#merge').addEventListener('click', guarded(merge))
$('#add-to-merge').addEventListener('click', () => addToMerge(currentVideo()))
$('#delete-video').addEventListener('click', guarded(() => confirmDelete(currentVideo())))
$('#share-form').addEventListener('submit', guarded((event) => createShare(currentVideo(), Number(new FormData(event.target).get('expiry_time')))))
startUppy()
if (session.token) start()
