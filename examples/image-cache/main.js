// `wxdl run examples/image-cache/main.js --serve examples/static:8000`: the image cache's
// scenario against the served directory; run it twice over the same data directory and the
// second run's first call is a hit.
require('./scenario.js')(`${wxdl.serveOrigin}/index.html`, (result) => console.log(JSON.stringify(result)));
