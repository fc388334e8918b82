// Times as people type them: seconds (`10.25`) or clock form (`00:00:10.250`, `1:05`), as the API takes.

const CLOCK = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/

// Seconds, or NaN for anything else.
export function parseTime (text) {
  const value = String(text).trim()
  const clock = CLOCK.exec(value)
  if (clock) {
    const [, hours, minutes, secs] = clock
    return Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(secs)
  }
  return /^\d+(?:\.\d*)?$|^\.\d+$/.test(value) ? Number(value) : NaN
}

// The field's value for the API: seconds, or the text as typed, so the API's sentence says what is wrong.
export function apiTime (text) {
  const seconds = parseTime(text)
  return Number.isNaN(seconds) ? String(text) : seconds
}
