using System.Net;
using System.Security.Cryptography;
using Amazon.S3.Model;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>The blob store's contract, on the local store and on a real S3 API server on loopback (moto_server).</summary>
public sealed class BlobStoreTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-blobs-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        TestServer.TryDelete(_dir);
        return ValueTask.CompletedTask;
    }

    private async Task<(IBlobStore Store, string? Bucket)> StoreAsync(string kind, long partBytes = 16L << 20)
    {
        if (kind == "local") return (new LocalBlobStore(Path.Combine(_dir, "blobs"), Path.Combine(_dir, "tmp")), null);
        var moto = await MotoServer.Shared.Value;
        var address = await moto.CreateBucketAsync();
        var store = new S3BlobStore(moto.Client(), new Uri(address), moto.Endpoint, Path.Combine(_dir, "tmp"), Path.Combine(_dir, "cache"), 1L << 30, partBytes);
        return (store, new Uri(address).Host);
    }

    private static byte[] Bytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadAllAsync(IBlobStore store, string sha)
    {
        await using var stream = await store.OpenReadAsync(sha, Ct);
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory, Ct);
        return memory.ToArray();
    }

    private static async Task<List<StoredBlob>> ListAsync(IBlobStore store)
    {
        var all = new List<StoredBlob>();
        await foreach (var b in store.ListAsync(Ct)) all.Add(b);
        return all;
    }

    [Theory]
    [InlineData("local")]
    [InlineData("s3")]
    public async Task Should_store_by_hash_read_back_verified_and_keep_one_copy_of_the_same_bytes(string kind)
    {
        var (store, _) = await StoreAsync(kind);
        var content = Bytes(300_000, 1);
        var put = await store.PutAsync(new MemoryStream(content), Ct);
        Assert.Equal((Convert.ToHexStringLower(SHA256.HashData(content)), 300_000L), (put.Sha256, put.Size));
        Assert.Equal(content, await ReadAllAsync(store, put.Sha256));
        Assert.Equal(content, await File.ReadAllBytesAsync(await store.GetLocalCopyAsync(put.Sha256, Ct), Ct));

        // The same bytes again, and many writers of them at once: one blob, no error, nothing overwritten.
        var again = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.PutAsync(new MemoryStream(content), Ct)));
        Assert.All(again, b => Assert.Equal(put, b));
        var scratch = store.NewTempPath(".bin");
        await File.WriteAllBytesAsync(scratch, Bytes(1000, 2), Ct);
        var imported = await store.ImportAsync(scratch, Ct);
        Assert.False(File.Exists(scratch));
        Assert.Equal([imported.Sha256, put.Sha256], (await ListAsync(store)).Select(b => b.Sha256).Order());
        Assert.Single(await ListAsync(store), b => b.Sha256 == put.Sha256 && b.Size == 300_000);

        await store.DeleteAsync(put.Sha256, Ct);
        Assert.Equal([imported.Sha256], (await ListAsync(store)).Select(b => b.Sha256));
        await Assert.ThrowsAnyAsync<IOException>(() => ReadAllAsync(store, put.Sha256));
        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenReadAsync("../../etc/passwd", Ct));
    }

    [Theory]
    [InlineData("local")]
    [InlineData("s3")]
    public async Task Should_refuse_a_blob_whose_bytes_no_longer_match_its_hash(string kind)
    {
        var (store, bucket) = await StoreAsync(kind);
        var put = await store.PutAsync(new MemoryStream(Bytes(50_000, 3)), Ct);
        var tampered = Bytes(50_000, 4);
        if (bucket is null)
        {
            await File.WriteAllBytesAsync(Path.Combine(_dir, "blobs", "sha256", put.Sha256[..2], put.Sha256), tampered, Ct);
        }
        else
        {
            using var s3 = (await MotoServer.Shared.Value).Client();
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = $"blobs/sha256/{put.Sha256[..2]}/{put.Sha256}", InputStream = new MemoryStream(tampered) }, Ct);
        }
        var read = await Assert.ThrowsAsync<CorruptBlobException>(() => ReadAllAsync(store, put.Sha256));
        Assert.Contains(put.Sha256, read.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<CorruptBlobException>(() => store.GetLocalCopyAsync(put.Sha256, Ct));
        // Nothing of the bad bytes stays in the local cache.
        if (bucket is not null) Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "cache")));
    }

    [Fact]
    public async Task Should_upload_a_large_blob_in_streamed_parts_and_abort_what_a_dead_writer_left()
    {
        var (store, bucket) = await StoreAsync("s3", partBytes: 5L << 20);
        var content = Bytes((12 << 20) + 12345, 5);
        var put = await store.PutAsync(new MemoryStream(content), Ct);
        using var s3 = (await MotoServer.Shared.Value).Client();
        var head = await s3.GetObjectMetadataAsync(bucket, $"blobs/sha256/{put.Sha256[..2]}/{put.Sha256}", Ct);
        // A multipart object's ETag counts its parts: 12 MiB in 5 MiB parts is three.
        Assert.EndsWith("-3\"", head.ETag, StringComparison.Ordinal);
        Assert.Equal(content, await ReadAllAsync(store, put.Sha256));

        // A writer that died after starting an upload leaves an unfinished upload, never an object.
        var key = $"blobs/sha256/ab/{new string('a', 64)}";
        await s3.InitiateMultipartUploadAsync(bucket, key, Ct);
        Assert.DoesNotContain(await ListAsync(store), b => b.Sha256 == new string('a', 64));
        // (moto dates every upload 2010-11-10, so the grace period itself cannot be seen here; S3 dates them truly.)
        Assert.Equal(1, await store.CleanPartialAsync(DateTimeOffset.UtcNow.AddMinutes(1), Ct));
        Assert.Empty((await s3.ListMultipartUploadsAsync(bucket, Ct)).MultipartUploads ?? []);
    }

    [Fact]
    public async Task Should_keep_local_copies_within_the_cache_size_evicting_the_least_recently_used()
    {
        var cache = new BlobCache(Path.Combine(_dir, "lru"), capacity: 250_000, inUse: TimeSpan.Zero);
        var blobs = Enumerable.Range(0, 3).Select(i => Bytes(100_000, 10 + i)).ToList();
        var shas = blobs.ConvertAll(b => Convert.ToHexStringLower(SHA256.HashData(b)));
        var downloads = 0;
        Task Fetch(int i, string path) { downloads++; return File.WriteAllBytesAsync(path, blobs[i]); }

        var first = await cache.GetAsync(shas[0], (p, _) => Fetch(0, p), Ct);
        await cache.GetAsync(shas[1], (p, _) => Fetch(1, p), Ct);
        await Task.Delay(20, Ct);
        Assert.Equal(first, await cache.GetAsync(shas[0], (p, _) => Fetch(0, p), Ct)); // a hit: no download, and now the most recent
        Assert.Equal(2, downloads);
        await cache.GetAsync(shas[2], (p, _) => Fetch(2, p), Ct);
        Assert.True(File.Exists(first));
        Assert.False(File.Exists(Path.Combine(_dir, "lru", shas[1])));
        Assert.True(Directory.GetFiles(Path.Combine(_dir, "lru")).Sum(f => new FileInfo(f).Length) <= 250_000);
        // A download that does not match its hash is not kept.
        await Assert.ThrowsAsync<CorruptBlobException>(() => cache.GetAsync(new string('b', 64), (p, ct) => File.WriteAllBytesAsync(p, blobs[0], ct), Ct));
        Assert.False(File.Exists(Path.Combine(_dir, "lru", new string('b', 64))));
    }

    [Fact]
    public async Task Should_answer_503_naming_the_store_while_it_is_unreachable_and_record_nothing()
    {
        var moto = await MotoServer.Shared.Value;
        var address = await moto.CreateBucketAsync();
        await using var relay = new TcpRelay(new Uri(moto.Endpoint).Port);
        await using var server = await TestServer.StartAsync(o => (o.Storage.Store, o.Storage.S3Endpoint) = (address, $"http://127.0.0.1:{relay.Port}"));
        var client = server.Client();
        await client.Datasets.UploadAsync("before", new MemoryStream("a,b\n1,2\n"u8.ToArray()), ct: Ct);

        relay.Cut();
        var refused = await Assert.ThrowsAsync<StratusApiException>(() => client.Datasets.UploadAsync("during", new MemoryStream("a,b\n3,4\n"u8.ToArray()), ct: Ct));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Contains("object store", refused.Message, StringComparison.Ordinal);
        using var http = server.Http();
        var ready = await http.GetAsync("health/ready", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains(address, await ready.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        relay.Restore();
        Assert.DoesNotContain((await client.Datasets.ListAsync(ct: Ct)).Items, d => d.Name == "during");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/ready", Ct)).StatusCode);
        Assert.Equal(2, (await client.Datasets.UploadAsync("after", new MemoryStream("a,b\n5,6\n7,8\n"u8.ToArray()), ct: Ct)).Rows);
    }
}
