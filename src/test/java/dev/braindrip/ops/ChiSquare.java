package dev.braindrip.ops;

/** Pearson's chi-square goodness of fit: the statistic and its p-value (regularized upper incomplete gamma). */
final class ChiSquare {
    private ChiSquare() {}

    /** Σ (observed − expected)² / expected over the cells with expected > 0. */
    static double statistic(long[] observed, double[] expected) {
        double x = 0;
        for (int i = 0; i < observed.length; i++) {
            if (expected[i] <= 0) continue;
            double d = observed[i] - expected[i];
            x += d * d / expected[i];
        }
        return x;
    }

    /** A statistic and its degrees of freedom. */
    record Fit(double statistic, int df) {
        double pValue() {
            return ChiSquare.pValue(statistic, df);
        }
    }

    /**
     * The statistic over the cells with expected > 0, those expecting fewer than minExpected pooled
     * into one cell (joined to the smallest other cell if the pool still expects too few), so the
     * χ² approximation holds: a rare id seen once must not decide the test.
     */
    static Fit pooled(long[] observed, double[] expected, double minExpected) {
        java.util.List<double[]> cells = new java.util.ArrayList<>(); // {observed, expected}
        double poolObs = 0, poolExp = 0;
        for (int i = 0; i < observed.length; i++) {
            if (expected[i] <= 0) continue;
            if (expected[i] < minExpected) {
                poolObs += observed[i];
                poolExp += expected[i];
            } else {
                cells.add(new double[] {observed[i], expected[i]});
            }
        }
        if (poolExp > 0) {
            if (poolExp >= minExpected || cells.isEmpty()) {
                cells.add(new double[] {poolObs, poolExp});
            } else {
                double[] smallest = cells.stream().min(java.util.Comparator.comparingDouble(c -> c[1])).orElseThrow();
                smallest[0] += poolObs;
                smallest[1] += poolExp;
            }
        }
        double x = 0;
        for (double[] c : cells) x += (c[0] - c[1]) * (c[0] - c[1]) / c[1];
        return new Fit(x, cells.size() - 1);
    }

    /** P(X ≥ x) for X ~ χ²(df): Q(df / 2, x / 2). */
    static double pValue(double x, int df) {
        if (df < 1) throw new IllegalArgumentException("df (" + df + ") must be >= 1");
        if (x <= 0) return 1;
        return upperGamma(df / 2.0, x / 2.0);
    }

    /** Q(a, x) = Γ(a, x) / Γ(a): the series below a + 1, Lentz's continued fraction above (Numerical Recipes 6.2). */
    static double upperGamma(double a, double x) {
        double lnPrefix = -x + a * Math.log(x) - lnGamma(a);
        if (x < a + 1) {
            double term = 1 / a, sum = term;
            for (int n = 1; n < 10_000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
                term *= x / (a + n);
                sum += term;
            }
            return Math.max(0, 1 - sum * Math.exp(lnPrefix));
        }
        double tiny = 1e-300, b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 10_000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < tiny) d = tiny;
            c = b + an / c;
            if (Math.abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(lnPrefix) * h;
    }

    /** ln Γ(a) for a > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
    static double lnGamma(double a) {
        final double[] c = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
                12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
        if (a < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * a))) - lnGamma(1 - a);
        a -= 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) s += c[i] / (a + i);
        double t = a + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (a + 0.5) * Math.log(t) - t + Math.log(s);
    }
}
