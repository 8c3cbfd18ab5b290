using Stratus.Ml.Inference;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Registry;

/// <summary>
/// The one door from a stored blob to a model package: a blob that is not a package this server can load (another
/// file registered as a version, a package from elsewhere, a model that reads outside itself) answers 422 naming the
/// model and why, never 500.
/// </summary>
public static class StoredPackages
{
    /// <summary>Loads the package stored under <paramref name="sha256"/>.</summary>
    /// <param name="what">The model version, for the message (<c>fraud:3</c>).</param>
    /// <exception cref="ProblemException">422: the blob is not a loadable package.</exception>
    public static async Task<ModelPackage> LoadAsync(IBlobStore blobs, string sha256, string what, CancellationToken ct)
    {
        await using var stream = await blobs.ReadVerifiedAsync(sha256, ct);
        return Read(stream, what, ModelPackage.Load);
    }

    /// <summary>Reads only the manifest of the package stored under <paramref name="sha256"/>.</summary>
    /// <exception cref="ProblemException">422: the blob is not a package.</exception>
    public static async Task<ModelManifest> ReadManifestAsync(IBlobStore blobs, string sha256, string what, CancellationToken ct)
    {
        await using var stream = await blobs.ReadVerifiedAsync(sha256, ct);
        return Read(stream, what, ModelPackage.ReadManifest);
    }

    /// <summary>Reads a package from <paramref name="stream"/>, turning every way it can fail to be one into a 422.</summary>
    public static T Read<T>(Stream stream, string what, Func<Stream, T> read)
    {
        try
        {
            return read(stream);
        }
        catch (InvalidModelException ex)
        {
            throw Unusable(what, ex.Message);
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException)
        {
            throw Unusable(what, ex.Message);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException or NotSupportedException or EndOfStreamException
            or Stratus.Ml.Training.Gbm.LightGbmException)
        {
            // ML.NET's and LightGBM's own messages about a broken model say nothing a user can act on, and may say
            // more about the server than they should.
            throw Unusable(what, "its model could not be read");
        }
    }

    private static ProblemException Unusable(string what, string reason) =>
        new(422, "Unusable model", $"{what} is not a model package this server can load: {reason}");
}
