// Tasks started from this page: a progress bar each, polled until the task ends.

import { api } from './api.js'

const POLL_MS = 400
const tasks = new Map()

function render () {
  document.querySelector('#tasks').replaceChildren(...[...tasks.values()].map((task) => {
    const item = document.createElement('li')
    item.dataset.id = task.task_id
    item.className = `status-${task.status}`
    item.innerHTML = `<span class="kind"></span> <progress max="1"></progress>
      <span class="task-status"></span> <span class="detail"></span>`
    item.querySelector('.kind').textContent = task.kind
    item.querySelector('progress').value = task.progress
    item.querySelector('progress').setAttribute('aria-label', `${task.kind} progress`)
    item.querySelector('.task-status').textContent = task.status
    item.querySelector('.detail').textContent = task.error ? `— ${task.error.detail}` : ''
    return item
  }))
}

// Follows `task` until it ends; resolves with its last state.
export async function follow (task) {
  tasks.set(task.task_id, task)
  render()
  while (!['finished', 'failed'].includes(task.status)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    task = await api('GET', task.status_url)
    tasks.set(task.task_id, task)
    render()
  }
  return task
}
