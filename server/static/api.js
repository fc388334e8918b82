// The API as the signed-in user: JSON in and out, failures thrown as the server's `detail` sentence.

const TOKEN_KEY = 'video-manager-token'
const NAME_KEY = 'video-manager-user' // shown in the header after a reload
export const session = {
  token: localStorage.getItem(TOKEN_KEY), name: localStorage.getItem(NAME_KEY), onSignedOut: () => {},
}

export function keepToken (token, name = null) {
  session.token = token
  session.name = token ? name : null
  for (const [key, value] of [[TOKEN_KEY, session.token], [NAME_KEY, session.name]]) {
    if (value) localStorage.setItem(key, value)
    else localStorage.removeItem(key)
  }
}

export function authHeader () { return { Authorization: `Token ${session.token}` } }

// Absolute URLs from the API (built from the server's public address) as paths on this origin.
export function localPath (url) { return url.replace(/^https?:\/\/[^/]+/, '') }

async function send (method, path, body) {
  const response = await fetch(localPath(path), {
    method,
    headers: { ...authHeader(), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  if (response.status === 401) {
    keepToken(null)
    session.onSignedOut()
    throw new Error('Your session ended; sign in again.')
  }
  return response
}

export async function api (method, path, body) {
  const response = await send(method, path, body)
  const data = response.status === 204 ? null : await response.json()
  if (!response.ok) throw new Error(data?.detail || response.statusText)
  return data
}

// A picture or text the page cannot fetch by URL alone (it needs the token header).
export async function fetchWithToken (path) {
  const response = await send('GET', path)
  if (!response.ok && response.status !== 202) throw new Error((await response.json()).detail || response.statusText)
  return response
}

export async function blobUrl (path) {
  return URL.createObjectURL(await (await fetchWithToken(path)).blob())
}

export function seconds (value) { return value == null ? '–' : `${value.toFixed(3)} s` }
