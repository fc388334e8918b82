// The merge list: videos in the order they will be joined; drag to reorder, or the arrow buttons.

const list = () => document.querySelector('#merge-list')
let dragged = null

export function addToMerge (video) {
  const item = document.createElement('li')
  item.dataset.id = video.id
  item.draggable = true
  item.innerHTML = `<span class="title"></span>
    <button type="button" class="up" aria-label="Move up">↑</button>
    <button type="button" class="down" aria-label="Move down">↓</button>
    <button type="button" class="remove" aria-label="Remove from the merge">✕</button>`
  item.querySelector('.title').textContent = video.name
  item.querySelector('.up').addEventListener('click', () => item.previousElementSibling?.before(item))
  item.querySelector('.down').addEventListener('click', () => item.nextElementSibling?.after(item))
  item.querySelector('.remove').addEventListener('click', () => { item.remove(); showHint() })
  item.addEventListener('dragstart', () => { dragged = item; item.classList.add('dragging') })
  item.addEventListener('dragend', () => { dragged = null; item.classList.remove('dragging') })
  item.addEventListener('dragover', (event) => {
    event.preventDefault()
    if (!dragged || dragged === item) return
    const box = item.getBoundingClientRect()
    if (event.clientY < box.top + box.height / 2) item.before(dragged)
    else item.after(dragged)
  })
  list().append(item)
  showHint()
}

function showHint () { document.querySelector('#merge-empty').hidden = list().children.length > 0 }

// After a merge: the list starts empty, so a second click cannot merge the same videos again.
export function clearMerge () {
  list().replaceChildren()
  showHint()
}

export function mergeOrder () { return [...list().children].map((item) => item.dataset.id) }

export function forget (videoId) {
  for (const item of [...list().children]) if (item.dataset.id === videoId) item.remove()
  showHint()
}
