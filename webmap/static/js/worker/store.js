/* The outbox's storage: one IndexedDB object store of reports made on this phone, photos as
 * Blobs inside them, so a reload, a crash or a day without signal loses nothing. */

const DB_NAME = "gridgov-outbox";
const STORE = "items";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let opened = null;
function db() {
  if (!opened) {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
    opened = request(req);
  }
  return opened;
}

async function tx(mode, work) {
  const store = (await db()).transaction(STORE, mode).objectStore(STORE);
  return request(work(store));
}

// Every item, oldest first: they are sent in the order they were made.
export async function all() {
  const items = await tx("readonly", (s) => s.getAll());
  return items.sort((a, b) => a.created - b.created || (a.key < b.key ? -1 : 1));
}

export const put = (item) => tx("readwrite", (s) => s.put(item));
export const remove = (key) => tx("readwrite", (s) => s.delete(key));
