using System.Reflection;
using Microsoft.ML;

namespace Stratus.Ml.Training;

/// <summary>
/// Stops an ML.NET fit (L-BFGS, SDCA, FastTree, FastForest) when a token fires: the trainers check their context
/// between steps and throw once it is cancelled. ML.NET 5 makes that cancel public only through the
/// Microsoft.ML.Experimental package, which is not served here, so the context's own internal method is bound once
/// (a test pins it, so an ML.NET upgrade that drops it fails there, not in a user's search).
/// </summary>
internal static class MlCancellation
{
    private static readonly Action<MLContext>? Cancel =
        typeof(MLContext).GetMethod("CancelExecution", BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes) is { } method
            ? method.CreateDelegate<Action<MLContext>>()
            : null;

    /// <summary>Whether this ML.NET can be cancelled (without it, fits run to their end).</summary>
    public static bool Supported => Cancel is not null;

    /// <summary>
    /// Runs <paramref name="fit"/> on <paramref name="ml"/>, cancelled when <paramref name="ct"/> fires; the trainers'
    /// own exceptions of a cancelled fit (one per one-versus-all model, wrapped) become one <see cref="OperationCanceledException"/>.
    /// </summary>
    public static T Run<T>(MLContext ml, Func<T> fit, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        using var registration = Cancel is { } cancel ? ct.Register(() => cancel(ml)) : default;
        try
        {
            return fit();
        }
        catch (Exception ex) when (ct.IsCancellationRequested && ex is not OperationCanceledException)
        {
            throw new OperationCanceledException("the fit was cancelled", ex, ct);
        }
    }
}
