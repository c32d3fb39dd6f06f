package dev.ferry.cluster.report;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.colors.XChartSeriesColors;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws the TTFT of successful requests as 900x500 PNG charts with XChart: a scatter of TTFT
 * (ms) over arrival time (s since the replay start), and the CDF of TTFT on a logarithmic
 * TTFT axis. Tick labels are round (at most one decimal; two on the CDF's fraction axis). Failed requests
 * are left out; with none successful the charts show a single point at 0. Runs headless.
 * Stateless; thread-safe.
 */
final class TtftCharts {
    static final int WIDTH = 900;
    static final int HEIGHT = 500;
    /** Tick labels of ms and s: thousands grouped, at most one decimal. */
    static final String ROUND = "#,##0.#";

    private TtftCharts() {
    }

    /** Writes the scatter of TTFT over arrival time to {@code file}, replacing it. */
    static Path writeScatter(Path file, List<RequestResult> results, String title) throws IOException {
        return save(scatter(results, title), file);
    }

    /** Writes the CDF of TTFT to {@code file}, replacing it. */
    static Path writeCdf(Path file, List<RequestResult> results, String title) throws IOException {
        return save(cdf(results, title), file);
    }

    /** The scatter: round ticks (at most one decimal on either axis). */
    static XYChart scatter(List<RequestResult> results, String title) {
        List<RequestResult> ok = results.stream().filter(r -> !r.failed()).toList();
        double[] arrivalS = ok.stream().mapToDouble(r -> r.arrivalNanos() / 1e9).toArray();
        double[] ttftMs = ok.stream().mapToDouble(r -> r.ttftNanos() / 1e6).toArray();
        XYChart chart = chart(title, "arrival (s)", "TTFT (ms)");
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(4);
        chart.getStyler().setXAxisDecimalPattern(ROUND);
        chart.getStyler().setYAxisDecimalPattern(ROUND);
        chart.addSeries("TTFT", orZero(arrivalS), orZero(ttftMs));
        return chart;
    }

    /**
     * The CDF: TTFT on a logarithmic axis spanning whole decades (so at least two decades are
     * labelled: 1, 10, 100 ms...), the fraction from 0 to 1 with two decimals. Without a
     * positive TTFT (no successful request) the axis stays linear: a logarithmic one cannot
     * show 0.
     */
    static XYChart cdf(List<RequestResult> results, String title) {
        double[] ttftMs = orZero(results.stream().filter(r -> !r.failed()).mapToDouble(r -> r.ttftNanos() / 1e6)
                .sorted().toArray());
        // A step per request: up at each TTFT from i/n to (i+1)/n.
        double[] x = new double[2 * ttftMs.length];
        double[] fraction = new double[x.length];
        for (int i = 0; i < ttftMs.length; i++) {
            x[2 * i] = ttftMs[i];
            x[2 * i + 1] = ttftMs[i];
            fraction[2 * i] = i / (double) ttftMs.length;
            fraction[2 * i + 1] = (i + 1) / (double) ttftMs.length;
        }
        XYChart chart = chart(title, "TTFT (ms, log scale)", "fraction of requests");
        chart.getStyler().setMarkerSize(0);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        chart.getStyler().setYAxisDecimalPattern("0.00");
        chart.getStyler().setXAxisDecimalPattern(ROUND);
        if (ttftMs[0] > 0) {
            chart.getStyler().setXAxisLogarithmic(true);
            chart.getStyler().setXAxisMin(Math.pow(10, Math.floor(Math.log10(ttftMs[0]))));
            chart.getStyler().setXAxisMax(Math.pow(10, Math.ceil(Math.log10(ttftMs[ttftMs.length - 1]) + 1e-9)));
        }
        // XChart puts the ticks of an axis whose distinct values, in insertion order, are equally
        // spaced on those values (0.9804658...) instead of round steps; an invisible series
        // whose values come first, 1 then 0, keeps the fractions from looking equally spaced.
        XYSeries bounds = chart.addSeries("bounds", new double[] {ttftMs[0], ttftMs[0]}, new double[] {1, 0});
        bounds.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        bounds.setMarker(SeriesMarkers.NONE);
        bounds.setLineColor(new Color(0, 0, 0, 0));
        XYSeries series = chart.addSeries("TTFT", x, fraction);
        series.setMarker(SeriesMarkers.NONE);
        series.setLineColor(XChartSeriesColors.BLUE);
        series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        return chart;
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(x).yAxisTitle(y)
                .build();
        chart.getStyler().setLegendVisible(false);
        return chart;
    }

    /** XChart refuses an empty series. */
    private static double[] orZero(double[] values) {
        return values.length == 0 ? new double[] {0} : values;
    }

    private static Path save(XYChart chart, Path file) throws IOException {
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
