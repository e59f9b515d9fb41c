/**
 * `make`, called once per distinct `key` object: later calls with the same key return the
 * first result. Held weakly, so a key that is dropped takes its value with it.
 *
 * For values that are costly to build and depend on an object only by identity, such as
 * codecs built around a signature verifier: generated decoders are compiled per schema, so
 * a node that rebuilt them at every start (a simulated restart, a new node in a test) paid
 * the compile and ran cold code every time.
 */
export function memoByObject<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}
