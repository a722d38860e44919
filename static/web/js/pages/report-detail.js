// A report's public page: where it is.
import { mapsAvailable, showPoint } from "../maps.js";

const element = document.getElementById("report-map");
if (element && mapsAvailable()) showPoint(element);
