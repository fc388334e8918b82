// The selected video's share links: create one, see them all with their expiry, copy one, revoke.

import { api } from './api.js'

const body = () => document.querySelector('#shares tbody')

let shown = 0 // the latest listing asked for: an older answer arriving later is dropped

export async function showShares (video) {
  const asked = ++shown
  const { results } = await api('GET', `/api/videos/${video.id}/shares/`)
  if (asked !== shown) return
  body().replaceChildren(...results.map(row))
  document.querySelector('#shares-empty').hidden = results.length > 0
  document.querySelector('#shares').hidden = results.length === 0
}

function copyButton (url) {
  const copy = document.createElement('button')
  copy.type = 'button'
  copy.className = 'copy'
  copy.textContent = 'Copy'
  copy.setAttribute('aria-label', 'Copy the link')
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url)
      copy.textContent = 'Copied'
    } catch {
      copy.textContent = 'Select and copy it'
    }
    setTimeout(() => { copy.textContent = 'Copy' }, 2000)
  })
  return copy
}

function row (link) {
  const item = document.createElement('tr')
  item.dataset.id = link.id
  const expired = new Date(link.expires_at) <= new Date()
  const state = link.revoked ? 'revoked' : expired ? 'expired' : 'active'
  item.innerHTML = '<td class="link"><a target="_blank" rel="noopener"></a></td><td class="expires"></td><td class="state"></td><td></td>'
  item.querySelector('a').href = link.url
  item.querySelector('a').textContent = link.url
  item.querySelector('.expires').textContent = new Date(link.expires_at).toLocaleString()
  item.querySelector('.state').textContent = state
  if (state === 'active') {
    item.lastElementChild.append(copyButton(link.url), ' ')
    const revoke = document.createElement('button')
    revoke.type = 'button'
    revoke.className = 'revoke'
    revoke.textContent = 'Revoke'
    revoke.addEventListener('click', async () => {
      await api('DELETE', `/api/shares/${link.id}/`)
      item.querySelector('.state').textContent = 'revoked'
      revoke.remove()
    })
    item.lastElementChild.append(revoke)
  }
  return item
}

export async function createShare (video, seconds) {
  await api('POST', `/api/videos/${video.id}/share/`, { expiry_time: seconds })
  await showShares(video)
}
