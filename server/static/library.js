// The list of the user's videos, each with its poster, searchable and sortable; selecting one
// (click, Enter or Space) plays it. A rejected upload says why and can be deleted from here.

import { api, blobUrl, seconds } from './api.js'

const $ = (selector) => document.querySelector(selector)
const posters = new Map() // video id → object URL of its poster
const ORDERS = {
  newest: () => 0, // the API's own order
  oldest: (a, b) => a.created_at.localeCompare(b.created_at),
  name: (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' }),
  duration: (a, b) => (b.duration ?? 0) - (a.duration ?? 0),
  size: (a, b) => (b.size ?? 0) - (a.size ?? 0),
}
let onSelect = () => {}
let onDelete = () => {}
let current = null
let videos = []

export function whenSelected (handler) { onSelect = handler }
export function whenDeleteAsked (handler) { onDelete = handler }

export function markCurrent (videoId) {
  current = videoId
  for (const item of document.querySelectorAll('#library li')) {
    item.setAttribute('aria-current', String(item.dataset.id === videoId))
  }
}

export async function refreshLibrary () {
  videos = (await api('GET', '/api/videos/')).results
  render()
  return videos
}

export function findVideo (videoId) { return videos.find((video) => video.id === videoId) }

function render () {
  const wanted = $('#library-search').value.trim().toLocaleLowerCase()
  const shown = videos.filter((video) => video.name.toLocaleLowerCase().includes(wanted))
  if ($('#library-sort').value !== 'newest') shown.sort(ORDERS[$('#library-sort').value])
  $('#library').replaceChildren(...shown.map(card))
  const empty = $('#library-empty')
  empty.hidden = shown.length > 0
  empty.textContent = videos.length ? `No video name contains "${wanted}".` : 'No videos yet: upload one above.'
  markCurrent(current)
}

function card (video) {
  const item = document.createElement('li')
  item.dataset.id = video.id
  item.innerHTML = `<div class="no-poster"></div><div><div class="name"></div>
    <div class="meta"></div><div class="meta status status-${video.status}"></div></div>`
  item.querySelector('.name').textContent = video.name
  item.querySelector('.meta').textContent =
    `${seconds(video.duration)} · ${video.width ? `${video.width}×${video.height}` : '–'}`
  item.querySelector('.status').textContent = video.error ? `${video.status}: ${video.error}` : video.status
  if (video.status === 'ready') {
    item.tabIndex = 0
    showPoster(item, video)
    const select = () => onSelect(video)
    item.addEventListener('click', select)
    item.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); select() }
    })
  } else {
    item.classList.add('unplayable')
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.className = 'danger delete'
    remove.textContent = 'Delete…'
    remove.setAttribute('aria-label', `Delete ${video.name}`)
    remove.addEventListener('click', () => onDelete(video))
    item.querySelector('.status').after(remove)
  }
  return item
}

async function showPoster (item, video) {
  if (!posters.has(video.id)) posters.set(video.id, blobUrl(video.thumbnail_url))
  try {
    const image = document.createElement('img')
    image.alt = `Poster of ${video.name}`
    image.src = await posters.get(video.id)
    item.querySelector('.no-poster').replaceWith(image)
  } catch {
    posters.delete(video.id) // asked again at the next refresh
  }
}

export function forgetPoster (videoId) { posters.delete(videoId) }

export function setUpLibrary () {
  $('#library-search').addEventListener('input', render)
  $('#library-sort').addEventListener('change', render)
}
