using System.Runtime.InteropServices;

namespace Stratus.Ml.Training.Gbm;

/// <summary>
/// The part of LightGBM's C API (<c>c_api.h</c>, LightGBM 4.x) that Stratus drives: datasets from CSR matrices,
/// boosting one iteration at a time with evaluation, saving and loading model text, and prediction. The native
/// library is the one the LightGBM NuGet package ships for ML.NET.
/// </summary>
internal static partial class LightGbmNative
{
    private const string Library = "lib_lightgbm";

    public const int DtypeFloat32 = 0;
    public const int DtypeInt64 = 3;

    public const int PredictNormal = 0;

    [LibraryImport(Library, EntryPoint = "LGBM_GetLastError")]
    private static partial IntPtr GetLastError();

    [LibraryImport(Library, EntryPoint = "LGBM_SetMaxThreads")]
    public static partial int SetMaxThreads(int count);

    [LibraryImport(Library, EntryPoint = "LGBM_DatasetCreateFromCSR", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DatasetCreateFromCsr(long[] indptr, int indptrType, int[] indices, float[] data, int dataType,
        long nindptr, long nelem, long numCol, string parameters, IntPtr reference, out DatasetHandle handle);

    [LibraryImport(Library, EntryPoint = "LGBM_DatasetSetField", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DatasetSetField(DatasetHandle handle, string field, float[] data, int count, int type);

    [LibraryImport(Library, EntryPoint = "LGBM_DatasetFree")]
    public static partial int DatasetFree(IntPtr handle);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterCreate", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BoosterCreate(DatasetHandle train, string parameters, out BoosterHandle handle);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterAddValidData")]
    public static partial int BoosterAddValidData(BoosterHandle booster, DatasetHandle valid);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterUpdateOneIter")]
    public static partial int BoosterUpdateOneIter(BoosterHandle booster, out int isFinished);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterGetEval")]
    public static partial int BoosterGetEval(BoosterHandle booster, int dataIndex, out int count, [Out] double[] results);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterGetNumClasses")]
    public static partial int BoosterGetNumClasses(BoosterHandle booster, out int count);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterGetNumFeature")]
    public static partial int BoosterGetNumFeature(BoosterHandle booster, out int count);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterGetCurrentIteration")]
    public static partial int BoosterGetCurrentIteration(BoosterHandle booster, out int iteration);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterSaveModelToString")]
    public static partial int BoosterSaveModelToString(BoosterHandle booster, int startIteration, int numIteration, int featureImportanceType,
        long bufferLength, out long length, [Out] byte[]? buffer);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterLoadModelFromString", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BoosterLoadModelFromString(string model, out int iterations, out BoosterHandle handle);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterPredictForCSR", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BoosterPredictForCsr(BoosterHandle booster, long[] indptr, int indptrType, int[] indices, float[] data, int dataType,
        long nindptr, long nelem, long numCol, int predictType, int startIteration, int numIteration, string parameter, out long length, [Out] double[] result);

    [LibraryImport(Library, EntryPoint = "LGBM_BoosterFree")]
    public static partial int BoosterFree(IntPtr handle);

    /// <summary>Throws LightGBM's own message when a call failed.</summary>
    public static void Check(int status)
    {
        if (status != 0) throw new LightGbmException(Marshal.PtrToStringUTF8(GetLastError()) ?? "unknown LightGBM error");
    }
}

/// <summary>An error LightGBM reported.</summary>
public sealed class LightGbmException(string message) : Exception($"LightGBM: {message}");

/// <summary>A native LightGBM dataset, freed with the handle.</summary>
internal sealed class DatasetHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle() => LightGbmNative.DatasetFree(handle) == 0;
}

/// <summary>A native LightGBM booster, freed with the handle.</summary>
internal sealed class BoosterHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle() => LightGbmNative.BoosterFree(handle) == 0;
}
