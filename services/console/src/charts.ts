// Only the parts of Apache ECharts the dashboard draws, so its chunk stays small. SVG renderer:
// crisp on phones, and text stays selectable.
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent,
             TooltipComponent, SVGRenderer]);

export { echarts };
