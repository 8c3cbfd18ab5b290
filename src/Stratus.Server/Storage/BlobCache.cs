using System.Collections.Concurrent;

namespace Stratus.Server.Storage;

/// <summary>
/// Verified local copies of remote blobs, for the engines that read files (DuckDB, LightGBM, ONNX Runtime): at most
/// <c>capacity</c> bytes on this node's disk, the least recently used evicted first. A copy is written to a scratch
/// file, checked against its hash and renamed into the cache, so a cached file is always whole and right; two requests
/// for the same missing blob download it once.
/// </summary>
public sealed class BlobCache
{
    private readonly string _folder;
    private readonly TimeSpan _inUse;
    private readonly long _capacity;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTime> _used = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();

    /// <param name="folder">Where the copies are.</param>
    /// <param name="capacity">The most bytes the copies take; beyond it the least recently used go.</param>
    /// <param name="inUse">A copy handed out this recently is not evicted: its reader may not have opened it yet.</param>
    public BlobCache(string folder, long capacity, TimeSpan? inUse = null)
    {
        _folder = Path.GetFullPath(folder);
        _capacity = capacity;
        _inUse = inUse ?? TimeSpan.FromMinutes(2);
        Directory.CreateDirectory(_folder);
        // Copies from an earlier process stay useful; partial downloads of a dead one do not. The node and its job
        // processes share the folder: a download younger than an hour may be another live process's.
        foreach (var file in Directory.EnumerateFiles(_folder))
        {
            if (BlobStoreExtensions.IsSha256(Path.GetFileName(file))) _used[Path.GetFileName(file)] = File.GetLastAccessTimeUtc(file);
            else if (File.GetLastWriteTimeUtc(file) < DateTime.UtcNow.AddHours(-1)) File.Delete(file);
        }
    }

    /// <summary>The cached copy of <paramref name="sha256"/>, made by <paramref name="download"/> (into the path it is given) when missing.</summary>
    public async Task<string> GetAsync(string sha256, Func<string, CancellationToken, Task> download, CancellationToken ct)
    {
        var path = Path.Combine(_folder, BlobStoreExtensions.CheckSha256(sha256));
        if (File.Exists(path))
        {
            Touch(sha256, path);
            return path;
        }
        var pending = _pending.GetOrAdd(sha256, _ => new Lazy<Task<string>>(() => FetchAsync(sha256, path, download, ct)));
        try
        {
            return await pending.Value;
        }
        finally
        {
            _pending.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(sha256, pending));
        }
    }

    private async Task<string> FetchAsync(string sha256, string path, Func<string, CancellationToken, Task> download, CancellationToken ct)
    {
        var temp = Path.Combine(_folder, $"{sha256}.{Guid.NewGuid():N}.download");
        try
        {
            await download(temp, ct);
            var actual = await BlobStoreExtensions.HashFileAsync(temp, ct);
            if (actual != sha256) throw new CorruptBlobException(sha256, $"its content hashes to {actual}");
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        Touch(sha256, path);
        Evict();
        return path;
    }

    /// <summary>
    /// Notes a use here and on the file itself: the node and its job processes share the folder, and each evicts by
    /// the latest use any of them made.
    /// </summary>
    private void Touch(string sha256, string path)
    {
        var now = DateTime.UtcNow;
        _used[sha256] = now;
        try
        {
            File.SetLastAccessTimeUtc(path, now);
        }
        catch (IOException)
        {
            // evicted by another process meanwhile: it is downloaded again at the next use
        }
    }

    private DateTime LastUse(string sha256, FileInfo file)
    {
        var here = _used.GetValueOrDefault(sha256);
        return file.LastAccessTimeUtc > here ? file.LastAccessTimeUtc : here;
    }

    /// <summary>Removes a copy (its blob was deleted).</summary>
    public void Remove(string sha256)
    {
        if (!BlobStoreExtensions.IsSha256(sha256)) return;
        _used.TryRemove(sha256, out _);
        File.Delete(Path.Combine(_folder, sha256));
    }

    private void Evict()
    {
        lock (_evicting)
        {
            // Every copy in the folder, this process's or another's.
            var files = new DirectoryInfo(_folder).EnumerateFiles()
                .Where(f => BlobStoreExtensions.IsSha256(f.Name))
                .Select(f => (Sha: f.Name, Info: f))
                .ToList();
            var total = files.Sum(f => f.Info.Length);
            var now = DateTime.UtcNow;
            foreach (var (sha, info) in files.OrderBy(f => LastUse(f.Sha, f.Info)))
            {
                if (total <= _capacity) break;
                if (now - LastUse(sha, info) < _inUse) continue;
                total -= info.Length;
                _used.TryRemove(sha, out _);
                info.Delete();
            }
        }
    }
}
