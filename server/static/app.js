// The browser client: token sign-in, Uppy + tus uploads, video list, trim / merge / share, task polling.
// Everything it loads is served by this server (Uppy from /static/vendor/uppy, built from npm at install).

const TOKEN_KEY = 'video-manager-token'
const $ = (selector) => document.querySelector(selector)
let token = localStorage.getItem(TOKEN_KEY)
let selected = [] // video ids, in the order they were ticked
const tasks = new Map()

async function api (method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Token ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  if (response.status === 401) { signOut(); throw new Error('Your session ended; sign in again.') }
  const data = response.status === 204 ? null : await response.json()
  if (!response.ok) throw new Error(data?.detail || response.statusText)
  return data
}

function showError (error) { $('#app-error').textContent = error.message }

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
  token = data.token
  localStorage.setItem(TOKEN_KEY, token)
  $('#who').textContent = form.get('username')
  start()
}

function signOut () {
  localStorage.removeItem(TOKEN_KEY)
  token = null
  $('#app').hidden = true
  $('#login-section').hidden = false
  $('#sign-out').hidden = true
}

function seconds (value) { return value == null ? '–' : `${value.toFixed(3)} s` }

function fileSize (bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${Math.ceil(bytes / 1e3)} KB`
}

async function refreshVideos () {
  const { results } = await api('GET', '/api/videos/')
  const body = $('#videos tbody')
  body.replaceChildren(...results.map((video) => {
    const row = document.createElement('tr')
    row.dataset.id = video.id
    const checked = selected.includes(video.id) ? 'checked' : ''
    row.innerHTML = `<td><input type="checkbox" ${checked} ${video.status === 'ready' ? '' : 'disabled'}></td>
      <td class="name"></td><td>${seconds(video.duration)}</td>
      <td>${video.width ? `${video.width}×${video.height}` : '–'}</td><td>${fileSize(video.size)}</td>
      <td class="status status-${video.status}">${video.status}</td><td>${video.source}</td><td class="id">${video.id}</td>`
    row.querySelector('.name').textContent = video.name
    if (video.error) row.querySelector('.status').title = video.error
    row.querySelector('input').addEventListener('change', (event) => {
      selected = selected.filter((id) => id !== video.id)
      if (event.target.checked) selected.push(video.id)
    })
    return row
  }))
}

function renderTasks () {
  $('#tasks').replaceChildren(...[...tasks.values()].map((task) => {
    const item = document.createElement('li')
    item.dataset.id = task.task_id
    item.className = `status-${task.status}`
    const result = task.result ? ` → video ${task.result.video_id}` : ''
    const error = task.error ? ` — ${task.error.detail}` : ''
    item.innerHTML = `${task.kind} <progress max="1" value="${task.progress}"></progress>
      <span class="task-status">${task.status}</span><span class="detail"></span>`
    item.querySelector('.detail').textContent = result + error
    return item
  }))
}

async function follow (task) {
  tasks.set(task.task_id, task)
  renderTasks()
  while (!['finished', 'failed'].includes(task.status)) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    task = await api('GET', task.status_url.replace(/^https?:\/\/[^/]+/, ''))
    tasks.set(task.task_id, task)
    renderTasks()
  }
  await refreshVideos()
}

function needSelection (count) {
  if (selected.length < count) throw new Error(`Tick ${count === 1 ? 'a video' : `at least ${count} videos`} first.`)
}

async function onTrim (event) {
  event.preventDefault()
  needSelection(1)
  const form = new FormData(event.target)
  const number = (value) => (/^\d+(\.\d+)?$/.test(value) ? Number(value) : value)
  const task = await api('POST', `/api/videos/${selected[0]}/trim/`, {
    start_time: number(form.get('start_time')), end_time: number(form.get('end_time')), mode: form.get('mode'),
  })
  follow(task)
}

async function onMerge (event) {
  event.preventDefault()
  needSelection(2)
  follow(await api('POST', '/api/videos/merge/', { video_ids: selected }))
}

async function onShare (event) {
  event.preventDefault()
  needSelection(1)
  const form = new FormData(event.target)
  const link = await api('POST', `/api/videos/${selected[0]}/share/`, { expiry_time: Number(form.get('expiry_time')) })
  const anchor = document.createElement('a')
  anchor.href = link.url
  anchor.textContent = link.url
  anchor.id = 'share-link'
  const player = document.createElement('video')
  player.src = link.url
  player.controls = true
  player.width = 320
  $('#share-result').replaceChildren(anchor, document.createElement('br'), player)
}

function guarded (handler) {
  return (event) => handler(event).then(() => { $('#app-error').textContent = '' }, showError)
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
    .use(Dashboard, { inline: true, target: '#uploader', height: 320, proudlyDisplayPoweredByUppy: false })
    .use(Tus, {
      endpoint: '/api/videos/chunked_upload/',
      headers: () => ({ Authorization: `Token ${token}` }),
      chunkSize: 32 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000],
    })
  uppy.on('upload-success', () => refreshVideos().catch(showError))
}

function start () {
  $('#login-section').hidden = true
  $('#app').hidden = false
  $('#sign-out').hidden = false
  refreshVideos().catch(showError)
}

$('#login-form').addEventListener('submit', signIn)
$('#sign-out').addEventListener('click', signOut)
$('#refresh').addEventListener('click', () => refreshVideos().catch(showError))
$('#trim-form').addEventListener('submit', guarded(onTrim))
$('#merge-form').addEventListener('submit', guarded(onMerge))
$('#share-form').addEventListener('submit', guarded(onShare))
startUppy()
if (token) start()
