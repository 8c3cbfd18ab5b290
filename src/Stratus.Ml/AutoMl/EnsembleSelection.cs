using Stratus.Ml.Training;

namespace Stratus.Ml.AutoMl;

/// <summary>
/// Greedy ensemble selection (Caruana et al., 2004): starting from nothing, repeatedly add (with replacement) the
/// model whose addition makes the averaged validation predictions score best; keep the best round. Models picked
/// several times weigh more. Works on probabilities and on regression values alike.
/// </summary>
public static class EnsembleSelection
{
    /// <returns>A weight per model (zero for those never picked), summing to 1, and the ensemble's validation score.</returns>
    public static (double[] Weights, double Score) Select(IReadOnlyList<double[]> predictions, float[] labels, MlTask task, int classes, string metric, int rounds = 25)
    {
        var sign = MetricCatalog.HigherIsBetter(metric) ? 1.0 : -1.0;
        var length = predictions[0].Length;
        var sum = new double[length];
        var counts = new int[predictions.Count];
        var best = (Counts: (int[])counts.Clone(), Score: double.NegativeInfinity);
        var average = new double[length];
        for (var round = 1; round <= rounds; round++)
        {
            var pick = -1;
            var pickScore = double.NegativeInfinity;
            for (var m = 0; m < predictions.Count; m++)
            {
                var p = predictions[m];
                for (var i = 0; i < length; i++) average[i] = (sum[i] + p[i]) / round;
                var score = sign * Score(task, labels, average, classes, metric);
                if (score > pickScore)
                {
                    pickScore = score;
                    pick = m;
                }
            }
            if (pick < 0) break; // every candidate scores NaN
            counts[pick]++;
            for (var i = 0; i < length; i++) sum[i] += predictions[pick][i];
            if (pickScore > best.Score) best = ((int[])counts.Clone(), pickScore);
        }
        var total = best.Counts.Sum();
        return ([.. best.Counts.Select(c => total == 0 ? 0 : (double)c / total)], sign * best.Score);
    }

    private static double Score(MlTask task, float[] labels, double[] predictions, int classes, string metric)
    {
        var value = ModelMetrics.Compute(task, labels, predictions, classes).Metrics.GetValueOrDefault(metric, double.NaN);
        return double.IsFinite(value) ? value : double.NegativeInfinity;
    }
}
