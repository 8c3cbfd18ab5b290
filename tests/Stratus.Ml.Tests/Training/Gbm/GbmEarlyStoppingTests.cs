using Microsoft.ML.Data;
using Stratus.Ml.Training;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Tests.Training.Gbm;

/// <summary>Early stopping ends boosting that no longer changes anything, and keeps boosting that still learns.</summary>
public sealed class GbmEarlyStoppingTests
{
    /// <summary>Rows of two overlapping clusters; a share <paramref name="noise"/> of the labels random.</summary>
    private static (SparseRows X, float[] Y) Rows(int count, int classes, int seed, double noise)
    {
        var random = new Random(seed);
        var vectors = new List<VBuffer<float>>(count);
        var labels = new float[count];
        for (var r = 0; r < count; r++)
        {
            var v = new float[8];
            var label = random.Next(classes);
            for (var j = 0; j < v.Length; j++) v[j] = (float)(random.NextDouble() + (j == 0 ? label * 3 : 0));
            labels[r] = random.NextDouble() < noise ? random.Next(classes) : label;
            vectors.Add(new VBuffer<float>(v.Length, v));
        }
        return (SparseRows.From(vectors), labels);
    }

    /// <summary>Rows of classes of the given sizes that yes/no columns tell apart exactly, shuffled.</summary>
    private static (SparseRows X, float[] Y) Clusters(int[] sizes, int seed)
    {
        var random = new Random(seed);
        var rows = sizes.SelectMany((size, label) => Enumerable.Range(0, size).Select(_ => label)).OrderBy(_ => random.Next()).ToList();
        // Yes/no columns, as zoo's: three spell the class, two are noise.
        var vectors = rows.Select(label => new VBuffer<float>(5, [.. Enumerable.Range(0, 5).Select(j => j < 3 ? (float)((label >> j) & 1) : random.Next(2))])).ToList();
        return (SparseRows.From(vectors), [.. rows.Select(label => (float)label)]);
    }

    [Fact]
    public void Should_stop_boosting_rows_it_already_separates()
    {
        // Small data with rare classes (as UCI's zoo: 7 classes in 101 rows): the validation loss falls near 0 within
        // a hundred iterations, then by millionths for as long as boosting goes on, as the rare classes' leaves drift
        // (2,000 iterations of 6 trees each, before this stop).
        var (x, y) = Clusters([25, 12, 8, 6, 6, 6], 1);
        var (validX, validY) = Clusters([6, 3, 2, 2, 2, 2], 2);
        var options = new GbmOptions { Iterations = 2000, EarlyStoppingRounds = 20, Leaves = 15, LearningRate = 0.2, MinDataInLeaf = 5, L2 = 1 };

        var (model, curve) = GbmTrainer.Train(x, y, validX, validY, MlTask.MulticlassClassification, 6, options, null, CancellationToken.None);

        using (model)
        {
            var loss = curve.Series["valid.log_loss"];
            Assert.True(loss.Length < 500, $"boosted {loss.Length} iterations of separated rows");
            // Stopped where the loss had fallen by 98% and then gained less than a tenth of a percent of its start in
            // 20 iterations.
            Assert.True(loss[curve.BestIteration - 1] < 0.02 * loss[0], $"the kept iteration's loss is {loss[curve.BestIteration - 1]}, from {loss[0]}, after {loss.Length}");
        }
    }

    [Fact]
    public void Should_keep_boosting_while_the_loss_still_falls_by_a_share_of_itself()
    {
        // Overlapping classes learned at a small rate: the loss falls slowly but steadily, and boosting goes on
        // (a stop by too coarse a threshold would end it early).
        var (x, y) = Rows(2000, 2, 3, 0.3);
        var (validX, validY) = Rows(500, 2, 4, 0.3);
        var options = new GbmOptions { Iterations = 400, EarlyStoppingRounds = 20, Leaves = 4, LearningRate = 0.01 };

        var (model, curve) = GbmTrainer.Train(x, y, validX, validY, MlTask.BinaryClassification, 2, options, null, CancellationToken.None);

        using (model) Assert.True(curve.Series["valid.log_loss"].Length > 200, $"stopped after {curve.Series["valid.log_loss"].Length} iterations");
    }
}
