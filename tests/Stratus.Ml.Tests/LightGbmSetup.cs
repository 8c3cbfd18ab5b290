using System.Runtime.CompilerServices;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Tests;

internal static class LightGbmSetup
{
    /// <summary>
    /// One LightGBM thread per call, as a server with a worker slot per core runs (JobSettings.TrainingThreads):
    /// the test classes train side by side, and budget-bound searches would otherwise share the cores with each other's thread teams.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => LightGbmThreads.Configure(1);
}
