package wxcore.bench;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * JMH's command line (the same options as {@code org.openjdk.jmh.Main}),
 * then per-call time, calls per second and the ratio of the two sides.
 *
 *     java -jar target/benchmarks.jar -f 1 -wi 3 -i 5 -w 1s -r 2s
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        Collection<RunResult> results = new Runner(new CommandLineOptions(args)).run();
        Map<String, Result<?>> byName = new HashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            byName.put(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult());
        }
        System.out.println();
        System.out.println("| benchmark | µs per call (avg ± 99.9% CI) | calls/s |");
        System.out.println("|---|---|---|");
        for (String n : new String[] {"wxcoreClientCall", "wxjavaUserInfo"}) {
            Result<?> r = byName.get(n);
            if (r == null) continue;
            double us = toMicros(r.getScore(), r.getScoreUnit());
            double err = toMicros(r.getScoreError(), r.getScoreUnit());
            System.out.printf("| %s | %.2f ± %.2f | %,.0f |%n", n, us, err, 1e6 / us);
        }
        Result<?> ours = byName.get("wxcoreClientCall");
        Result<?> peer = byName.get("wxjavaUserInfo");
        if (ours != null && peer != null) {
            double o = toMicros(ours.getScore(), ours.getScoreUnit());
            double p = toMicros(peer.getScore(), peer.getScoreUnit());
            System.out.printf("%nratio: WxJava / wxcore time per call = %.2f (%s)%n", p / o,
                    p >= o ? String.format("wxcore is %.2fx faster", p / o) : String.format("wxcore is %.2fx slower", o / p));
        }
    }

    // Average-time units (JMH's -tu may change them); throughput modes are not converted.
    private static double toMicros(double v, String unit) {
        switch (unit) {
            case "ns/op": return v / 1e3;
            case "us/op": return v;
            case "ms/op": return v * 1e3;
            case "s/op": return v * 1e6;
            default: throw new IllegalArgumentException("run in average-time mode (-bm avgt), not " + unit);
        }
    }
}
