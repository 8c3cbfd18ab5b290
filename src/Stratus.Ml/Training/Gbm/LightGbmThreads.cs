namespace Stratus.Ml.Training.Gbm;

/// <summary>
/// The one number of threads every LightGBM call in this process uses, fixed before the first call.
/// </summary>
/// <remarks>
/// LightGBM keeps its thread count in a process-wide variable that each call carrying <c>num_threads</c> sets
/// (<c>OMP_SET_NUM_THREADS</c> in its C API), and it sizes per-thread buffers from that variable when a dataset or a
/// booster is built, then indexes them by thread number in later parallel loops. Two calls that disagree, on two
/// threads (trials side by side, a prediction during a training) or one after the other (a booster built with one
/// thread, trained after another call asked for all cores), read past those buffers: the segfaults of
/// <c>PushDataToMultiValBin</c> during <c>LGBM_BoosterCreate</c> that parallel AutoML trials caused. LightGBM's own
/// documentation says not to change <c>num_threads</c> while anything trains. So the count is a property of the
/// process, like a worker's share of the machine, and never of a call.
/// </remarks>
public static class LightGbmThreads
{
    private static int _count;

    /// <summary>The threads of every LightGBM call; the machine's cores unless <see cref="Configure"/> said otherwise first.</summary>
    public static int Count => Volatile.Read(ref _count) is > 0 and var count ? count : Configure(Environment.ProcessorCount);

    /// <summary>Fixes the count, unless it is already fixed (by an earlier call or by a LightGBM call): the first one stays.</summary>
    /// <returns>The count in force.</returns>
    public static int Configure(int threads)
    {
        if (Interlocked.CompareExchange(ref _count, Math.Max(1, threads), 0) == 0)
        {
            // Also a ceiling inside LightGBM, for any call that would fall back to OpenMP's default.
            LightGbmNative.Check(LightGbmNative.SetMaxThreads(_count));
        }
        return _count;
    }

    private static string? _parameter;

    /// <summary>LightGBM's parameters with the process's thread count added: every call that takes parameters goes through here.</summary>
    /// <remarks>A prediction's (empty) parameters cost no allocation: the count never changes once used.</remarks>
    internal static string With(string parameters)
    {
        var threads = _parameter ??= $"num_threads={Count}";
        return parameters.Length == 0 ? threads : $"{parameters} {threads}";
    }
}
