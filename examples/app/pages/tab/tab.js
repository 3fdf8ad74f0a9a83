Page(require('../../utils/logged.js')('tab'));
