// The browser loads uPlot's own ES module from /ui/vendor/ (served from node_modules/uplot);
// its types are the package's.
import uPlot from "uplot";
export default uPlot;
