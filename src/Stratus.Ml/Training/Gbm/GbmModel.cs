using System.Text;
using static Stratus.Ml.Training.Gbm.LightGbmNative;

namespace Stratus.Ml.Training.Gbm;

/// <summary>
/// A trained LightGBM booster: scores feature vectors natively, and saves to (and loads from) LightGBM's own model
/// text, so a package can be read by any LightGBM. Prediction is thread-safe: LightGBM guards the booster itself.
/// </summary>
public sealed class GbmModel : IDisposable
{
    private readonly BoosterHandle _handle;

    private GbmModel(BoosterHandle handle)
    {
        _handle = handle;
        Check(BoosterGetNumClasses(handle, out var classes));
        Check(BoosterGetNumFeature(handle, out var features));
        Check(BoosterGetCurrentIteration(handle, out var iterations));
        Classes = classes;
        Features = features;
        Iterations = iterations;
    }

    /// <summary>Outputs per row: the number of classes for multiclass models, otherwise 1.</summary>
    public int Classes { get; }

    /// <summary>The width of the feature vectors the model reads.</summary>
    public int Features { get; }

    /// <summary>Boosting iterations (trees per class).</summary>
    public int Iterations { get; }

    /// <summary>Takes ownership of a trained booster, keeping its first <paramref name="iterations"/> iterations (all when 0).</summary>
    internal static GbmModel From(BoosterHandle booster, int iterations)
    {
        var text = Save(booster, iterations);
        booster.Dispose();
        return Load(text);
    }

    /// <summary>Takes ownership of a trained booster as it is, and of the datasets it was trained on (freed with it).</summary>
    internal static GbmModel Owning(BoosterHandle booster, IReadOnlyList<IDisposable> datasets) => new(booster) { _datasets = datasets };

    private IReadOnlyList<IDisposable> _datasets = [];

    /// <summary>Reads LightGBM model text.</summary>
    /// <exception cref="LightGbmException">The text is not a LightGBM model.</exception>
    public static GbmModel Load(string text)
    {
        Check(BoosterLoadModelFromString(text, out _, out var handle));
        return new GbmModel(handle);
    }

    /// <summary>LightGBM's model text.</summary>
    public string Save() => Save(_handle, 0);

    private static string Save(BoosterHandle booster, int iterations)
    {
        Check(BoosterSaveModelToString(booster, 0, iterations, 0, 0, out var length, null));
        var buffer = new byte[length];
        Check(BoosterSaveModelToString(booster, 0, iterations, 0, length, out _, buffer));
        return Encoding.UTF8.GetString(buffer, 0, (int)length - 1); // without the terminating NUL
    }

    /// <summary>
    /// Scores rows: per row, the probability of the positive class (binary), one probability per class (multiclass),
    /// or the predicted value (regression).
    /// </summary>
    /// <param name="iterations">Score with the first this many iterations only (all when -1).</param>
    internal double[] Predict(SparseRows rows, int iterations = -1)
    {
        if (rows.Columns != Features) throw new InvalidOperationException($"the model reads {Features} features, the rows have {rows.Columns}");
        var result = new double[(long)rows.Rows * Classes];
        if (rows.Rows == 0) return result;
        // The process's one thread count (LightGbmThreads), never one per call: a call that asked for one thread for
        // a small batch would change it under a training on another thread.
        Check(BoosterPredictForCsr(_handle, rows.RowStarts, DtypeInt64, rows.Indices, rows.Values, DtypeFloat32, rows.RowStarts.Length, rows.Values.Length,
            rows.Columns, PredictNormal, 0, iterations, LightGbmThreads.With(""), out _, result));
        return result;
    }

    public void Dispose()
    {
        _handle.Dispose();
        foreach (var d in _datasets) d.Dispose();
    }
}
