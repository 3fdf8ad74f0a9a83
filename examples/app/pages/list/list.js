Page(require('../../utils/logged.js')('list'));
