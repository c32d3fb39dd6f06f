package dev.ferry.cluster.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;

class TtftChartsTest {
    /** TTFT of 1 to 50 ms, five of them failed. */
    private static final List<RequestResult> RESULTS = SyntheticResults.of(50);

    @Test
    void theCdfHasALogarithmicTtftAxisOverWholeDecades() {
        XYChart chart = TtftCharts.cdf(RESULTS, "t");
        assertThat(chart.getStyler().isXAxisLogarithmic()).isTrue();
        assertThat(chart.getStyler().getXAxisMin()).isEqualTo(1.0);
        assertThat(chart.getStyler().getXAxisMax()).isEqualTo(100.0);
    }

    @Test
    void theCdfsFractionAxisHasRoundTicksFromZeroToOne() {
        XYChart chart = TtftCharts.cdf(RESULTS, "t");
        assertThat(chart.getStyler().getYAxisMin()).isEqualTo(0.0);
        assertThat(chart.getStyler().getYAxisMax()).isEqualTo(1.0);
        assertThat(chart.getStyler().getYAxisDecimalPattern()).isNotNull();
        assertThat(format(chart.getStyler().getYAxisDecimalPattern(), 0.980465815176559)).isEqualTo("0.98");
        assertThat(format(chart.getStyler().getXAxisDecimalPattern(), 12.345678)).isEqualTo("12.3");
    }

    @Test
    void theCdfIsDrawnWithRoundFractionTicks() throws ReflectiveOperationException {
        // 300 successful requests: equally spaced fractions, which XChart would label as they are.
        List<RequestResult> many = new java.util.ArrayList<>();
        for (int i = 0; i < 300; i++) {
            many.add(new RequestResult(i, i * 1_000_000L, 1, 0, 0, 0, 0, 0, 0, 0, (i % 37 + 1) * 700_000L, 1, 0, null));
        }
        List<String> labels = yTickLabels(TtftCharts.cdf(many, "t"));
        assertThat(labels).isNotEmpty().contains("0.00", "0.50", "1.00")
                .allSatisfy(label -> assertThat(label).matches("-?\\d\\.\\d0"));
    }

    /** The Y axis's tick labels as drawn: XChart computes them while painting. */
    private static List<String> yTickLabels(XYChart chart) throws ReflectiveOperationException {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(TtftCharts.WIDTH, TtftCharts.HEIGHT,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = image.createGraphics();
        try {
            chart.paint(g, TtftCharts.WIDTH, TtftCharts.HEIGHT);
        } finally {
            g.dispose();
        }
        var getYAxis = org.knowm.xchart.internal.chartpart.Chart.class.getDeclaredMethod("getYAxis");
        getYAxis.setAccessible(true);
        var axis = (org.knowm.xchart.internal.chartpart.Axis<?, ?>) getYAxis.invoke(chart);
        return axis.getAxisTickCalculator().getTickLabels();
    }

    @Test
    void theScatterHasRoundTicks() {
        XYChart chart = TtftCharts.scatter(RESULTS, "t");
        assertThat(format(chart.getStyler().getXAxisDecimalPattern(), 4.2000001)).isEqualTo("4.2");
        assertThat(format(chart.getStyler().getYAxisDecimalPattern(), 1234.5678)).isEqualTo("1,234.6");
    }

    @Test
    void aCdfWithinOneDecadeSpansItsTwoBoundingDecades(@TempDir Path dir) throws IOException {
        List<RequestResult> narrow = RESULTS.stream().filter(r -> r.ttftNanos() >= 20_000_000).toList();
        XYChart chart = TtftCharts.cdf(narrow, "t");
        assertThat(chart.getStyler().getXAxisMin()).isEqualTo(10.0);
        assertThat(chart.getStyler().getXAxisMax()).isEqualTo(100.0);
        assertPng(TtftCharts.writeCdf(dir.resolve("narrow.png"), narrow, "t"));
    }

    @Test
    void aCdfWithoutASuccessfulRequestIsDrawnOnALinearAxis(@TempDir Path dir) throws IOException {
        List<RequestResult> failed = RESULTS.stream().filter(RequestResult::failed).toList();
        assertThat(TtftCharts.cdf(failed, "t").getStyler().isXAxisLogarithmic()).isFalse();
        assertPng(TtftCharts.writeCdf(dir.resolve("failed.png"), failed, "t"));
    }

    private static String format(String pattern, double value) {
        return new DecimalFormat(pattern, DecimalFormatSymbols.getInstance(Locale.ROOT)).format(value);
    }

    private static void assertPng(Path png) throws IOException {
        assertThat(Files.readAllBytes(png)).startsWith(0x89, 'P', 'N', 'G');
        assertThat(Files.size(png)).isBetween(5_000L, 1_000_000L);
    }
}
