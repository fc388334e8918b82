// The list of the user's videos, each with its poster; selecting one (click, Enter or Space) plays it.

import { api, blobUrl, seconds } from './api.js'

const posters = new Map() // video id → object URL of its poster
let onSelect = () => {}
let current = null

export function whenSelected (handler) { onSelect = handler }

export function markCurrent (videoId) {
  current = videoId
  for (const item of document.querySelectorAll('#library li')) {
    item.setAttribute('aria-current', String(item.dataset.id === videoId))
  }
}

export async function refreshLibrary () {
  const { results } = await api('GET', '/api/videos/')
  document.querySelector('#library').replaceChildren(...results.map(card))
  markCurrent(current)
  return results
}

function card (video) {
  const item = document.createElement('li')
  item.dataset.id = video.id
  item.tabIndex = 0
  item.innerHTML = `<div class="no-poster"></div><div><div class="name"></div>
    <div class="meta"></div><div class="meta status status-${video.status}"></div></div>`
  item.querySelector('.name').textContent = video.name
  item.querySelector('.meta').textContent =
    `${seconds(video.duration)} · ${video.width ? `${video.width}×${video.height}` : '–'}`
  item.querySelector('.status').textContent = video.error ? `${video.status}: ${video.error}` : video.status
  if (video.status === 'ready') {
    showPoster(item, video)
    const select = () => onSelect(video)
    item.addEventListener('click', select)
    item.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); select() }
    })
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
