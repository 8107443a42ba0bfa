// The parts of ECharts the dashboard draws with (src/tokentrail/server/static/app.js): bar,
// line and calendar-heatmap charts on a canvas, with the aria component the full build has.
// A chart type or component app.js starts to use must be added here (and build.sh run).
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart } from "echarts/charts";
import {
  AriaComponent,
  CalendarComponent,
  DataZoomInsideComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  HeatmapChart,
  LineChart,
  AriaComponent,
  CalendarComponent,
  DataZoomInsideComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export const init = echarts.init;
export const getInstanceByDom = echarts.getInstanceByDom;
