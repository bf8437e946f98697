// The Secrets docs/deploy.md tells an operator to create, read from its
// `kubectl create secret` commands: which names and which keys. The manifests may use no
// Secret, and no key of one, that the page does not tell how to make.
'use strict';

const path = require('path');

// Shell words of one command line, with quotes removed (enough for documentation
// commands: no nested substitutions are interpreted, `$(...)` stays one word).
function words(line) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\$\([^)]*\)|[^\s"']+)+/g;
  let m;
  while ((m = re.exec(line)) !== null) out.push(m[0].replace(/^["']|["']$/g, ''));
  return out;
}

// Map of Secret name -> Set of keys.
function documentedSecrets(markdown) {
  const secrets = new Map();
  // Join continuation lines, then look at every command that creates a Secret.
  const lines = markdown.replace(/\\\n\s*/g, ' ').split('\n');
  for (const line of lines) {
    const at = line.indexOf('create secret ');
    if (at < 0 || !/kubectl/.test(line.slice(0, at))) continue;
    const w = words(line.slice(at + 'create secret '.length));
    const type = w[0];
    const name = w[1];
    if (!name || name.startsWith('-')) continue;
    const keys = secrets.get(name) || new Set();
    if (type === 'tls') {
      keys.add('tls.crt');
      keys.add('tls.key');
    }
    for (const word of w.slice(2)) {
      const m = /^--from-(file|literal)=(.*)$/.exec(word);
      if (!m) continue;
      const eq = m[2].indexOf('=');
      if (m[1] === 'literal' || eq >= 0) {
        keys.add(m[2].slice(0, eq));
      } else {
        keys.add(path.basename(m[2]));
      }
    }
    secrets.set(name, keys);
  }
  return secrets;
}

module.exports = { documentedSecrets };
