// `wxdl run examples/media/main.js --serve examples/static:8000`: the media scenario (image
// info, the photo album, the clipboard, absent APIs) against the served directory, its result
// printed as JSON; the album copies land in the data directory's album/.
require('./scenario.js')(`${wxdl.serveOrigin}/logo.png`, (result) => console.log(JSON.stringify(result, null, 2)));
