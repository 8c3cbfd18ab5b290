using Microsoft.ML.Data;
using Stratus.Ml.Training;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Tests.Training.Gbm;

/// <summary>
/// LightGBM keeps one thread count for the whole process and sizes its buffers by it: trainings and predictions on
/// several threads at once (AutoML trials side by side, endpoints scoring during a training) crashed the process when
/// their calls asked for different counts. These tests fail by killing the test host.
/// </summary>
public sealed class LightGbmConcurrencyTests
{
    /// <summary>Dense rows with two category-code columns (native categories), numbers with missing values, a binary label.</summary>
    private static (SparseRows X, float[] Y) Rows(int count, int seed)
    {
        var random = new Random(seed);
        var vectors = new List<VBuffer<float>>(count);
        var labels = new float[count];
        for (var r = 0; r < count; r++)
        {
            var v = new float[12];
            v[0] = random.Next(1, 6);
            v[1] = random.Next(1, 40);
            for (var j = 2; j < v.Length; j++) v[j] = random.NextDouble() < 0.1 ? float.NaN : (float)random.NextDouble();
            labels[r] = (v[0] == 2 ? 1 : 0) + v[2] + (float.IsNaN(v[3]) ? 0.5f : v[3]) > 1.2 ? 1 : 0;
            vectors.Add(new VBuffer<float>(v.Length, v));
        }
        return (SparseRows.From(vectors), labels);
    }

    [Fact]
    public async Task Should_train_and_predict_on_many_threads_at_once_without_crashing()
    {
        // Small trainings (which once ran on one thread) beside large predictions (which once asked for every core)
        // and single-row ones: before LightGbmThreads this crashed within the first few hundred boosters on 2 cores.
        var (x, y) = Rows(3000, 1);
        var (validX, validY) = Rows(600, 2);
        var (big, _) = Rows(5000, 3);
        var (one, _) = Rows(1, 4);
        using var reference = GbmTrainer.Train(x, y, validX, validY, MlTask.BinaryClassification, 2, new GbmOptions { Iterations = 20 }, null, CancellationToken.None).Model;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var boosters = 0;
        var predictions = 0;

        var trainers = Enumerable.Range(0, 3).Select(t => Task.Run(() =>
        {
            for (var i = 0; DateTime.UtcNow < deadline; i++)
            {
                var options = new GbmOptions { Iterations = 8, Leaves = 4 + (i % 8), CategoricalFeatures = i % 2 == 0 ? [0, 1] : [], Seed = t * 1000 + i, TrainMetrics = i % 3 == 0 };
                var (model, _) = GbmTrainer.Train(x, y, validX, validY, MlTask.BinaryClassification, 2, options, null, CancellationToken.None);
                using (model) Assert.Equal(validX.Rows, model.Predict(validX).Length);
                Interlocked.Increment(ref boosters);
            }
        }));
        var scorers = new[] { big, one }.Select(rows => Task.Run(() =>
        {
            while (DateTime.UtcNow < deadline)
            {
                Assert.Equal(rows.Rows, reference.Predict(rows).Length);
                Interlocked.Increment(ref predictions);
            }
        }));
        await Task.WhenAll([.. trainers, .. scorers]);

        Assert.True(boosters > 0 && predictions > 0, $"{boosters} boosters, {predictions} predictions");
    }
}
