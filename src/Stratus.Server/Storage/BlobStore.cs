using System.Buffers;
using System.Security.Cryptography;

namespace Stratus.Server.Storage;

/// <summary>A stored blob: its SHA-256 (lower-case hex) and size.</summary>
public sealed record BlobRef(string Sha256, long Size);

/// <summary>
/// Content-addressed blob storage: every blob lives under its SHA-256, is written to a temporary file, flushed to
/// disk and renamed into place, so a crash at any moment leaves either the whole blob or nothing visible.
/// Callers never choose a location; only hashes this store computed are ever turned into paths.
/// </summary>
public interface IBlobStore
{
    /// <summary>A fresh path for a scratch file in the store's temporary folder, for callers that produce files (DuckDB).</summary>
    string NewTempPath(string extension = "");

    /// <summary>Streams <paramref name="content"/> into the store.</summary>
    Task<BlobRef> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>Moves a finished scratch file into the store (consuming it).</summary>
    Task<BlobRef> ImportAsync(string tempPath, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading; the stream throws <see cref="InvalidDataException"/> at its end if the bytes do not match the hash.</summary>
    Stream OpenRead(string sha256);

    /// <summary>A local file holding the blob, for engines that read files (DuckDB); verified against its hash first.</summary>
    Task<string> GetVerifiedLocalPathAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>Every stored blob's hash and last write time.</summary>
    IEnumerable<(string Sha256, DateTimeOffset WrittenAt, long Size)> List();

    /// <summary>Removes a blob, if present.</summary>
    void Delete(string sha256);
}

/// <summary><see cref="IBlobStore"/> on the local file system: <c>&lt;root&gt;/sha256/ab/abcdef…</c>.</summary>
public sealed class LocalBlobStore : IBlobStore
{
    private readonly string _root;
    private readonly string _temp;

    /// <summary>Creates the store under <paramref name="root"/> with scratch files in <paramref name="tempDirectory"/> (same file system, so renames are atomic).</summary>
    public LocalBlobStore(string root, string tempDirectory)
    {
        _root = Path.GetFullPath(Path.Combine(root, "sha256"));
        _temp = Path.GetFullPath(tempDirectory);
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_temp);
    }

    /// <inheritdoc />
    public string NewTempPath(string extension = "") => Path.Combine(_temp, Guid.NewGuid().ToString("N") + extension);

    /// <inheritdoc />
    public async Task<BlobRef> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        var temp = NewTempPath();
        try
        {
            string sha;
            long size;
            await using (var file = CreateTemp(temp))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
                try
                {
                    int read;
                    while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                file.Flush(flushToDisk: true);
                size = file.Length;
                sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            Commit(temp, sha);
            return new BlobRef(sha, size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<BlobRef> ImportAsync(string tempPath, CancellationToken cancellationToken)
    {
        if (!Path.GetFullPath(tempPath).StartsWith(_temp + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException("Only scratch files from NewTempPath can be imported.", nameof(tempPath));
        try
        {
            string sha;
            long size;
            await using (var file = new FileStream(tempPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
                file.Flush(flushToDisk: true);
                size = file.Length;
            }
            Commit(tempPath, sha);
            return new BlobRef(sha, size);
        }
        finally
        {
            File.Delete(tempPath);
        }
    }

    /// <inheritdoc />
    public Stream OpenRead(string sha256)
    {
        var path = PathOf(sha256);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return new VerifyingStream(file, sha256);
    }

    /// <inheritdoc />
    public async Task<string> GetVerifiedLocalPathAsync(string sha256, CancellationToken cancellationToken)
    {
        var path = PathOf(sha256);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
        return actual == sha256 ? path : throw new InvalidDataException($"Blob {sha256} is corrupt: its content hashes to {actual}.");
    }

    /// <inheritdoc />
    public IEnumerable<(string Sha256, DateTimeOffset WrittenAt, long Size)> List()
    {
        foreach (var file in new DirectoryInfo(_root).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            if (IsSha256(file.Name)) yield return (file.Name, file.LastWriteTimeUtc, file.Length);
        }
    }

    /// <inheritdoc />
    public void Delete(string sha256) => File.Delete(PathOf(sha256));

    /// <summary>Removes scratch files left by a process that died mid-write; called at start, before any request.</summary>
    public int CleanTemp()
    {
        var removed = 0;
        foreach (var file in Directory.EnumerateFileSystemEntries(_temp))
        {
            if (Directory.Exists(file)) Directory.Delete(file, recursive: true);
            else File.Delete(file);
            removed++;
        }
        return removed;
    }

    private static FileStream CreateTemp(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        Share = FileShare.None,
        BufferSize = 1 << 16,
        Options = FileOptions.Asynchronous,
    });

    private void Commit(string temp, string sha)
    {
        var final = PathOf(sha);
        if (File.Exists(final))
        {
            // Same bytes already stored. Refresh the write time so that the collector's grace period covers the new reference too.
            File.SetLastWriteTimeUtc(final, DateTime.UtcNow);
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        File.Move(temp, final, overwrite: true);
    }

    private string PathOf(string sha256)
    {
        // The only place a path is built from a hash: refuse anything that is not one.
        if (!IsSha256(sha256)) throw new ArgumentException("Not a SHA-256 hex digest.", nameof(sha256));
        return Path.Combine(_root, sha256[..2], sha256);
    }

    internal static bool IsSha256(string value) => Names.IsLowerHex(value, 64);

    private sealed class VerifyingStream(FileStream inner, string expected) : Stream
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
                if (actual != expected) throw new InvalidDataException($"Blob {expected} is corrupt: its content hashes to {actual}.");
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
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

public static class BlobStoreExtensions
{
    /// <summary>A blob read whole into memory, its hash verified on the way (for readers that need to seek, such as a model package's zip).</summary>
    public static async Task<MemoryStream> ReadVerifiedAsync(this IBlobStore blobs, string sha256, CancellationToken ct)
    {
        var memory = new MemoryStream();
        await using (var blob = blobs.OpenRead(sha256))
        {
            await blob.CopyToAsync(memory, ct);
        }
        memory.Position = 0;
        return memory;
    }
}
