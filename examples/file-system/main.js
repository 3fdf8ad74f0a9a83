// `wxdl run examples/file-system/main.js --serve examples/static:8000`: the file system
// scenario against the served directory, its result printed as JSON.
require('./scenario.js')(`${wxdl.serveOrigin}/index.html`, (result) => console.log(JSON.stringify(result, null, 2)));
