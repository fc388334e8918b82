// Tasks started from this page, polled until they end: a bar beside the button that started each
// (so it is seen while it runs) and a row in the Tasks list naming what it works on, whose
// finished result opens with one click.

import { api } from './api.js'

const POLL_MS = 400
const tasks = new Map() // task id → { task, label }
let openResult = () => {}

export function whenResultOpened (handler) { openResult = handler }

function progressParts (task, label) {
  const parts = document.createElement('span')
  parts.innerHTML = `<span class="kind"></span> <progress max="1"></progress>
    <span class="task-status"></span> <span class="detail"></span>`
  parts.querySelector('.kind').textContent = label
  parts.querySelector('progress').value = task.progress
  parts.querySelector('progress').setAttribute('aria-label', `${label}: progress`)
  parts.querySelector('.task-status').textContent =
    task.status === 'started' ? `${Math.round(task.progress * 100)}%` : task.status
  parts.querySelector('.detail').textContent = task.error ? `— ${task.error.detail}` : ''
  if (task.status === 'finished' && task.result) {
    const open = document.createElement('button')
    open.type = 'button'
    open.className = 'open-result'
    open.textContent = 'Open result'
    open.addEventListener('click', () => openResult(task.result.video_id))
    parts.append(' ', open)
  }
  return parts
}

function render (beside) {
  const { task, label } = tasks.get(beside.taskId)
  beside.element.hidden = false
  beside.element.className = `inline-progress status-${task.status}`
  beside.element.replaceChildren(progressParts(task, label))
  document.querySelector('#tasks-empty').hidden = tasks.size > 0
  document.querySelector('#tasks').replaceChildren(...[...tasks.entries()].reverse().map(([id, entry]) => {
    const item = document.createElement('li')
    item.dataset.id = id
    item.className = `status-${entry.task.status}`
    item.append(progressParts(entry.task, entry.label))
    return item
  }))
}

// Follows `task` until it ends, shown as `label` (e.g. "trim of clip.mp4") in `element` beside
// the button that started it and in the Tasks list; resolves with its last state.
export async function follow (task, label, element) {
  const beside = { taskId: task.task_id, element }
  tasks.set(task.task_id, { task, label })
  render(beside)
  while (!['finished', 'failed'].includes(task.status)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    task = await api('GET', task.status_url)
    tasks.set(task.task_id, { task, label })
    render(beside)
  }
  return task
}
