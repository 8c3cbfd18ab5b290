using System.Buffers;
using System.Security.Cryptography;

namespace Stratus.Server.Storage;

/// <summary>A stored blob: its SHA-256 (lower-case hex) and size.</summary>
public sealed record BlobRef(string Sha256, long Size);

/// <summary>A blob in a scratch file, about to be committed: its plaintext's hash and size, and the data key it is sealed under (null: stored as it is).</summary>
internal sealed record WrittenBlob(string Sha256, long Size, byte[]? Key);

/// <summary>A blob as the store lists it: its hash, size and when it was last written.</summary>
public sealed record StoredBlob(string Sha256, long Size, DateTimeOffset WrittenAt);

/// <summary>
/// Content-addressed blob storage: every blob lives under its SHA-256 and appears whole or not at all (a local file
/// fsynced and renamed into place; an S3 object created conditionally, never overwritten). Callers never choose a
/// location: only hashes this store computed become keys. Every read is verified against the hash. With encryption at
/// rest (<see cref="IDataKeys"/>, <see cref="BlobCipher"/>) a blob is sealed under its own data key before it reaches the
/// disk, and its address stays the SHA-256 of its plaintext, so identical uploads still deduplicate. Scratch files and
/// local copies are on this node's disk; the store itself may be shared by many nodes.
/// </summary>
public interface IBlobStore
{
    /// <summary>Where the blobs are, for an operator: a folder, or <c>s3://bucket/prefix at endpoint</c>.</summary>
    string Location { get; }

    /// <summary>This node's scratch folder, for engines that write files (DuckDB, LightGBM).</summary>
    string TempDirectory { get; }

    /// <summary>A fresh path for a scratch file in <see cref="TempDirectory"/>.</summary>
    string NewTempPath(string extension = "");

    /// <summary>Streams <paramref name="content"/> into the store.</summary>
    Task<BlobRef> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>Moves a finished scratch file into the store (consuming it).</summary>
    Task<BlobRef> ImportAsync(string tempPath, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading; the stream throws <see cref="CorruptBlobException"/> if the bytes are not the blob's.</summary>
    Task<Stream> OpenReadAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>
    /// A file on this node holding the blob, for engines that read files (DuckDB, LightGBM, ONNX Runtime); its bytes
    /// verified against the hash. Read it soon: a cached copy may be evicted later.
    /// </summary>
    Task<string> GetLocalCopyAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>Every stored blob.</summary>
    IAsyncEnumerable<StoredBlob> ListAsync(CancellationToken cancellationToken);

    /// <summary>Removes a blob, if present.</summary>
    Task DeleteAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>Removes what writers that died mid-write left behind (partial files, unfinished multipart uploads) before <paramref name="before"/>.</summary>
    Task<int> CleanPartialAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>Removes this node's scratch files left by a process that died; called at start, before any request.</summary>
    int CleanTemp();

    /// <summary>Throws <see cref="BlobStoreUnavailableException"/> when the store cannot be read and written now (readiness).</summary>
    Task CheckAsync(CancellationToken cancellationToken);
}

/// <summary>A stored blob's bytes are not what was written (altered, truncated, or sealed under another key): refused, never served.</summary>
public sealed class CorruptBlobException(string sha256, string why) : IOException($"Blob {sha256} is corrupt: {why}.")
{
    public string Sha256 { get; } = sha256;
}

/// <summary>The object store cannot be reached, or refused this node's credentials: the request gets 503, and nothing is recorded as stored.</summary>
public sealed class BlobStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Hashes what is read through it and throws <see cref="CorruptBlobException"/> at the end when the bytes are not the blob's.</summary>
/// <param name="inner">The blob's bytes.</param>
/// <param name="expected">Its hash.</param>
/// <param name="owner">What else the stream holds until disposed (an S3 answer and its connection).</param>
internal sealed class VerifyingStream(Stream inner, string expected, IDisposable? owner = null) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        return Observe(buffer[..n]);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        return Observe(buffer.Span[..n]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Observe(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            _hash.AppendData(data);
        }
        else if (!_checked)
        {
            _checked = true;
            var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
            if (actual != expected) throw new CorruptBlobException(expected, $"its content hashes to {actual}");
        }
        return data.Length;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            owner?.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}

public static class BlobStoreExtensions
{
    /// <summary>Whether <paramref name="value"/> is a SHA-256 as the store names blobs (64 lower-case hex digits): the only strings that become keys or paths.</summary>
    internal static bool IsSha256(string value) => Names.IsLowerHex(value, 64);

    /// <summary>Throws unless <paramref name="sha256"/> is a hash (<see cref="IsSha256"/>).</summary>
    internal static string CheckSha256(string sha256) =>
        IsSha256(sha256) ? sha256 : throw new ArgumentException("Not a SHA-256 hex digest.", nameof(sha256));

    /// <summary>
    /// Copies <paramref name="content"/> into a new scratch file, hashing on the way, and flushes it to disk: the first
    /// half of every put (the hash names the blob before it is stored).
    /// </summary>
    internal static async Task<(string Sha256, long Size)> WriteHashedAsync(Stream content, string path, CancellationToken ct)
    {
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 1 << 16,
            Options = FileOptions.Asynchronous,
        });
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        file.Flush(flushToDisk: true);
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), file.Length);
    }

    /// <summary>
    /// The first half of every put: <paramref name="content"/> hashed into the scratch file <paramref name="path"/>, and
    /// sealed there under a fresh data key when <paramref name="keys"/> encrypt (the key not yet recorded: see
    /// <see cref="ClaimAsync"/>). No plaintext reaches the disk of an encrypting store.
    /// </summary>
    internal static async Task<WrittenBlob> WriteAsync(Stream content, string path, IDataKeys? keys, CancellationToken ct)
    {
        if (keys is not { Encrypting: true })
        {
            var (sha, size) = await WriteHashedAsync(content, path, ct);
            return new WrittenBlob(sha, size, null);
        }
        var key = BlobCipher.NewKey();
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        var (hash, length) = await BlobCipher.SealAsync(content, file, key, ct);
        file.Flush(flushToDisk: true);
        return new WrittenBlob(hash, length, key);
    }

    /// <summary>
    /// A finished plaintext scratch file (an engine's output) as a blob ready to commit: hashed in place, or sealed into
    /// a new scratch file and the plaintext one deleted. Returns the file to commit.
    /// </summary>
    internal static async Task<(WrittenBlob Blob, string Path)> SealFileAsync(string tempPath, Func<string> newTemp, IDataKeys? keys, CancellationToken ct)
    {
        if (keys is not { Encrypting: true })
        {
            await using var file = new FileStream(tempPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
            file.Flush(flushToDisk: true);
            return (new WrittenBlob(sha, file.Length, null), tempPath);
        }
        var sealedPath = newTemp();
        try
        {
            WrittenBlob written;
            await using (var plain = new FileStream(tempPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                written = await WriteAsync(plain, sealedPath, keys, ct);
            }
            File.Delete(tempPath);
            return (written, sealedPath);
        }
        catch
        {
            File.Delete(sealedPath);
            throw;
        }
    }

    /// <summary>
    /// Just before a sealed blob is committed (the store does not hold it yet): records its data key, or, when another
    /// writer of the same bytes recorded its own first, seals the scratch file again under that one.
    /// </summary>
    internal static async Task ClaimAsync(WrittenBlob written, string path, Func<string> newTemp, IDataKeys? keys, CancellationToken ct)
    {
        if (written.Key is null || keys is null) return;
        var claimed = await keys.ClaimAsync(written.Sha256, written.Key, ct);
        if (claimed.AsSpan().SequenceEqual(written.Key)) return;
        var again = newTemp();
        try
        {
            await using (var source = new BlobCipher.OpenStream(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous), written.Key, written.Sha256))
            await using (var file = new FileStream(again, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await BlobCipher.SealAsync(source, file, claimed, ct);
                file.Flush(flushToDisk: true);
            }
            File.Move(again, path, overwrite: true);
        }
        finally
        {
            File.Delete(again);
        }
    }

    /// <summary>A stored blob's bytes as its reader sees them: opened under its data key when it has one, and verified against its hash.</summary>
    internal static async Task<Stream> OpenAsync(Stream stored, string sha256, IDataKeys? keys, IDisposable? owner, CancellationToken ct)
    {
        try
        {
            var key = keys is null ? null : await keys.FindAsync(sha256, ct);
            return new VerifyingStream(key is null ? stored : new BlobCipher.OpenStream(stored, key, sha256), sha256, owner);
        }
        catch
        {
            await stored.DisposeAsync();
            owner?.Dispose();
            throw;
        }
    }

    /// <summary>Copies a blob's verified plaintext into a new file (a local copy for an engine).</summary>
    internal static async Task CopyToFileAsync(Stream blob, string path, CancellationToken ct)
    {
        await using (blob)
        await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await blob.CopyToAsync(file, 1 << 16, ct);
        }
    }

    /// <summary>The SHA-256 of a file, read through once.</summary>
    internal static async Task<string> HashFileAsync(string path, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
    }

    /// <summary>Removes every entry of a scratch folder (files and folders); how many there were.</summary>
    internal static int EmptyFolder(string folder)
    {
        var removed = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
            removed++;
        }
        return removed;
    }

    /// <summary>A blob read whole into memory, its hash verified on the way (for readers that need to seek, such as a model package's zip).</summary>
    public static async Task<MemoryStream> ReadVerifiedAsync(this IBlobStore blobs, string sha256, CancellationToken ct)
    {
        var memory = new MemoryStream();
        await using (var blob = await blobs.OpenReadAsync(sha256, ct))
        {
            await blob.CopyToAsync(memory, ct);
        }
        memory.Position = 0;
        return memory;
    }
}
