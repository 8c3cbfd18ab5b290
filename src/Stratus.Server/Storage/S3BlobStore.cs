using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Stratus.Server.Storage;

/// <summary>
/// <see cref="IBlobStore"/> on an S3-compatible object store: <c>s3://bucket/prefix/sha256/ab/abcdef…</c>. A blob is
/// hashed into a scratch file first (its hash is its key), then created with <c>If-None-Match: *</c> — a single PUT up
/// to one part's size, a streamed multipart upload above it, read part by part from the file — so an object is never
/// overwritten, a reader sees the whole blob or nothing, and an upload that dies leaves only an unfinished multipart
/// upload, which <see cref="CleanPartialAsync"/> aborts. Engines that read files get verified copies from a bounded
/// least-recently-used cache on this node (<see cref="BlobCache"/>).
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly IAmazonS3 _s3;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly long _partBytes;
    private readonly BlobCache _cache;
    private readonly IDataKeys? _keys;

    /// <param name="s3">The client (endpoint, path-style addressing, credentials).</param>
    /// <param name="uri"><c>s3://bucket</c> or <c>s3://bucket/prefix</c>.</param>
    /// <param name="endpoint">For an operator's messages: the endpoint the client talks to, or null for AWS.</param>
    /// <param name="tempDirectory">This node's scratch folder.</param>
    /// <param name="cacheDirectory">This node's cache of local copies.</param>
    /// <param name="cacheBytes">The most the cache holds.</param>
    /// <param name="partBytes">Blobs larger than this go up as multipart uploads in parts of this size (at least 5 MiB, S3's minimum).</param>
    /// <param name="keys">Encryption at rest: the blobs' data keys; null stores and reads plaintext only.</param>
    public S3BlobStore(IAmazonS3 s3, Uri uri, string? endpoint, string tempDirectory, string cacheDirectory, long cacheBytes, long partBytes, IDataKeys? keys = null)
    {
        _keys = keys;
        _s3 = s3;
        (_bucket, _prefix) = Parse(uri);
        _partBytes = Math.Max(5L << 20, partBytes);
        Location = $"s3://{_bucket}/{_prefix}".TrimEnd('/') + (endpoint is null ? "" : $" at {endpoint}");
        TempDirectory = Path.GetFullPath(tempDirectory);
        Directory.CreateDirectory(TempDirectory);
        _cache = new BlobCache(cacheDirectory, cacheBytes);
    }

    /// <summary>Bucket and key prefix of an <c>s3://</c> URI; a clear message for anything else.</summary>
    public static (string Bucket, string Prefix) Parse(Uri uri)
    {
        if (uri.Scheme != "s3" || string.IsNullOrEmpty(uri.Host))
            throw new ArgumentException($"'{uri}' is not an s3://BUCKET/PREFIX address");
        var prefix = uri.AbsolutePath.Trim('/');
        return (uri.Host, prefix.Length == 0 ? "" : prefix + "/");
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    public string TempDirectory { get; }

    /// <inheritdoc />
    public string NewTempPath(string extension = "") => Path.Combine(TempDirectory, Guid.NewGuid().ToString("N") + extension);

    /// <inheritdoc />
    public async Task<BlobRef> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        var temp = NewTempPath();
        try
        {
            var written = await BlobStoreExtensions.WriteAsync(content, temp, _keys, cancellationToken);
            await UploadAsync(temp, written, cancellationToken);
            return new BlobRef(written.Sha256, written.Size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<BlobRef> ImportAsync(string tempPath, CancellationToken cancellationToken)
    {
        if (!Path.GetFullPath(tempPath).StartsWith(TempDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException("Only scratch files from NewTempPath can be imported.", nameof(tempPath));
        var path = tempPath;
        try
        {
            (var written, path) = await BlobStoreExtensions.SealFileAsync(tempPath, () => NewTempPath(), _keys, cancellationToken);
            await UploadAsync(path, written, cancellationToken);
            return new BlobRef(written.Sha256, written.Size);
        }
        finally
        {
            File.Delete(tempPath);
            File.Delete(path);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string sha256, CancellationToken cancellationToken)
    {
        var key = KeyOf(sha256);
        var response = await Call(() => _s3.GetObjectAsync(_bucket, key, cancellationToken), sha256);
        return await BlobStoreExtensions.OpenAsync(response.ResponseStream, sha256, _keys, response, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string> GetLocalCopyAsync(string sha256, CancellationToken cancellationToken) =>
        _cache.GetAsync(sha256, async (path, ct) => await BlobStoreExtensions.CopyToFileAsync(await OpenReadAsync(sha256, ct), path, ct), cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredBlob> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix + "sha256/" };
        while (true)
        {
            var page = await Call(() => _s3.ListObjectsV2Async(request, cancellationToken), null);
            foreach (var o in page.S3Objects ?? [])
            {
                var name = o.Key[(o.Key.LastIndexOf('/') + 1)..];
                if (BlobStoreExtensions.IsSha256(name) && o.Key == KeyOf(name))
                    yield return new StoredBlob(name, o.Size ?? 0, new DateTimeOffset(o.LastModified ?? DateTime.UtcNow, TimeSpan.Zero).ToUniversalTime());
            }
            if (page.IsTruncated != true) yield break;
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string sha256, CancellationToken cancellationToken)
    {
        await Call(() => _s3.DeleteObjectAsync(_bucket, KeyOf(sha256), cancellationToken), sha256);
        _cache.Remove(sha256);
    }

    /// <inheritdoc />
    public async Task<int> CleanPartialAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var aborted = 0;
        var request = new ListMultipartUploadsRequest { BucketName = _bucket, Prefix = _prefix + "sha256/" };
        while (true)
        {
            var page = await Call(() => _s3.ListMultipartUploadsAsync(request, cancellationToken), null);
            foreach (var upload in page.MultipartUploads ?? [])
            {
                if (upload.Initiated is { } started && new DateTimeOffset(started.ToUniversalTime(), TimeSpan.Zero) >= before) continue;
                await Call(() => _s3.AbortMultipartUploadAsync(_bucket, upload.Key, upload.UploadId, cancellationToken), null);
                aborted++;
            }
            if (page.IsTruncated != true) return aborted;
            (request.KeyMarker, request.UploadIdMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
        }
    }

    /// <inheritdoc />
    public int CleanTemp() => BlobStoreExtensions.EmptyFolder(TempDirectory);

    /// <inheritdoc />
    public async Task CheckAsync(CancellationToken cancellationToken) =>
        await Call(() => _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix + "sha256/", MaxKeys = 1 }, cancellationToken), null);

    public void Dispose() => _s3.Dispose();

    private async Task UploadAsync(string file, WrittenBlob written, CancellationToken ct)
    {
        var sha = written.Sha256;
        var key = KeyOf(sha);
        if (await ExistsAsync(key, ct)) return; // same bytes, stored before (as they were: sealed or not)
        await BlobStoreExtensions.ClaimAsync(written, file, () => NewTempPath(), _keys, ct);
        var size = new FileInfo(file).Length;
        try
        {
            if (size <= _partBytes)
            {
                await Call(() => _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = key, FilePath = file, IfNoneMatch = "*" }, ct), sha);
            }
            else
            {
                await MultipartAsync(file, key, size, ct);
            }
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            // Created meanwhile by another writer: its bytes are these bytes (the key is their hash).
        }
    }

    private async Task MultipartAsync(string file, string key, long size, CancellationToken ct)
    {
        // S3 allows 10,000 parts: a blob too large for the configured part size gets larger parts.
        var partSize = Math.Max(_partBytes, (size + 9_999) / 10_000);
        var started = await Call(() => _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key }, ct), null);
        try
        {
            var parts = new List<PartETag>();
            var number = 1;
            for (long offset = 0; offset < size; offset += partSize, number++)
            {
                var part = new UploadPartRequest
                {
                    BucketName = _bucket,
                    Key = key,
                    UploadId = started.UploadId,
                    PartNumber = number,
                    FilePath = file,
                    FilePosition = offset,
                    PartSize = Math.Min(partSize, size - offset),
                    IsLastPart = offset + partSize >= size,
                };
                var uploaded = await Call(() => _s3.UploadPartAsync(part, ct), null);
                parts.Add(new PartETag(number, uploaded.ETag));
            }
            await Call(() => _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = key,
                UploadId = started.UploadId,
                PartETags = parts,
                IfNoneMatch = "*",
            }, ct), null);
        }
        catch
        {
            // Nothing of an unfinished upload is visible; abort it so that its parts are not kept (and billed).
            try
            {
                await _s3.AbortMultipartUploadAsync(_bucket, key, started.UploadId, CancellationToken.None);
            }
            catch (Exception abort) when (abort is AmazonServiceException or HttpRequestException or IOException)
            {
                // CleanPartialAsync aborts it later.
            }
            throw;
        }
    }

    private async Task<bool> ExistsAsync(string key, CancellationToken ct)
    {
        try
        {
            await Call(() => _s3.GetObjectMetadataAsync(_bucket, key, ct), null);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs one S3 call; a store that cannot be reached or refuses the credentials becomes
    /// <see cref="BlobStoreUnavailableException"/> (503), a missing blob <see cref="FileNotFoundException"/>.
    /// </summary>
    private async Task<T> Call<T>(Func<Task<T>> call, string? sha256)
    {
        try
        {
            return await call();
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && sha256 is not null && ex.ErrorCode is "NoSuchKey" or "NotFound" or null)
        {
            throw new FileNotFoundException($"Blob {sha256} is not in {Location}.", ex);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized || ex.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "NoSuchBucket")
        {
            throw new BlobStoreUnavailableException($"the object store {Location} refused this node: {ex.ErrorCode ?? ex.StatusCode.ToString()} ({ex.Message})", ex);
        }
        catch (AmazonS3Exception ex) when ((int)ex.StatusCode >= 500)
        {
            throw new BlobStoreUnavailableException($"the object store {Location} failed: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or AmazonClientException
            || ex is TaskCanceledException && ex.InnerException is TimeoutException)
        {
            throw new BlobStoreUnavailableException($"the object store {Location} cannot be reached: {ex.Message}", ex);
        }
    }

    private string KeyOf(string sha256) => $"{_prefix}sha256/{BlobStoreExtensions.CheckSha256(sha256)[..2]}/{sha256}";
}
