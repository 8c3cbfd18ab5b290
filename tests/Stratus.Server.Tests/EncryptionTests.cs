using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Amazon.KeyManagementService.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>Encryption at rest: every blob sealed under its own data key, wrapped by a key-encryption key; in both store modes.</summary>
public sealed class EncryptionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(BlobCipher.ChunkBytes - 1)]
    [InlineData(BlobCipher.ChunkBytes)]
    [InlineData(BlobCipher.ChunkBytes + 1)]
    [InlineData(3 * BlobCipher.ChunkBytes + 5)]
    public async Task Should_seal_and_open_every_size_and_refuse_any_altered_cut_extended_or_reordered_blob(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var key = BlobCipher.NewKey();
        using var sealedBytes = new MemoryStream();
        var (sha, length) = await BlobCipher.SealAsync(new MemoryStream(plain), sealedBytes, key, Ct);
        Assert.Equal((Convert.ToHexStringLower(SHA256.HashData(plain)), (long)size), (sha, length));
        var stored = sealedBytes.ToArray();
        Assert.Equal(plain, await OpenAsync(stored, key, sha));
        if (size >= 16) Assert.Equal(-1, stored.AsSpan().IndexOf(plain.AsSpan(0, 16))); // no run of the plaintext stored

        var chunk = BlobCipher.ChunkBytes + BlobCipher.TagBytes;
        var altered = new List<(string What, byte[] Bytes, byte[] Key)>
        {
            ("another key", stored, BlobCipher.NewKey()),
            ("the magic", Flip(stored, 0), key),
            ("the first byte after the magic", Flip(stored, 8), key),
            ("the last byte (a tag)", Flip(stored, stored.Length - 1), key),
            ("one byte cut off", stored[..^1], key),
            ("a byte appended", [.. stored, 0], key),
            ("nothing after the magic", stored[..8], key),
        };
        if (size > BlobCipher.ChunkBytes)
        {
            altered.Add(("the last chunk dropped", stored[..(8 + chunk * (int)((size - 1) / BlobCipher.ChunkBytes))], key));
            var swapped = stored.ToArray();
            stored.AsSpan(8 + chunk, Math.Min(chunk, stored.Length - 8 - chunk)).CopyTo(swapped.AsSpan(8));
            stored.AsSpan(8, Math.Min(chunk, stored.Length - 8 - chunk)).CopyTo(swapped.AsSpan(8 + chunk));
            altered.Add(("two chunks swapped", swapped, key));
        }
        foreach (var (what, bytes, k) in altered)
        {
            var refused = await Assert.ThrowsAsync<CorruptBlobException>(() => OpenAsync(bytes, k, sha));
            Assert.True(refused.Message.Contains(sha, StringComparison.Ordinal), what);
        }
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x01;
        return copy;
    }

    private static async Task<byte[]> OpenAsync(byte[] stored, byte[] key, string sha)
    {
        await using var open = new BlobCipher.OpenStream(new MemoryStream(stored), key, sha);
        using var plain = new MemoryStream();
        await open.CopyToAsync(plain, Ct);
        return plain.ToArray();
    }

    /// <summary>A CSV whose text and numbers are markers: no file of the node and no object of the bucket may hold one.</summary>
    private static (string Csv, string[] Markers) Marked()
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var markers = new[] { $"zq{tag}alpha", $"zq{tag}beta", $"zq{tag}gamma" };
        var csv = new StringBuilder("note,amount,fraud\n");
        var random = new Random(3);
        for (var i = 0; i < 400; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append($"{markers[i % 3]},{(fraud ? 300 : 40) + random.Next(100)},{(fraud ? 1 : 0)}\n");
        }
        return (csv.ToString(), markers);
    }

    /// <summary>Every file under a folder, and every object of the server's bucket when it stores in S3.</summary>
    private static async Task<List<(string Where, byte[] Bytes)>> EverythingStoredAsync(TestServer server)
    {
        var all = Directory.EnumerateFiles(server.DataDir, "*", SearchOption.AllDirectories).Select(f => (f, File.ReadAllBytes(f))).ToList();
        if (server.Services.GetRequiredService<StorageSettings>().Store is { } store && store.StartsWith("s3://", StringComparison.Ordinal))
        {
            var moto = await MotoServer.Shared.Value;
            using var s3 = moto.Client();
            var bucket = new Uri(store).Host;
            foreach (var o in (await s3.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket }, Ct)).S3Objects ?? [])
            {
                using var response = await s3.GetObjectAsync(bucket, o.Key, Ct);
                using var bytes = new MemoryStream();
                await response.ResponseStream.CopyToAsync(bytes, Ct);
                all.Add(($"s3://{bucket}/{o.Key}", bytes.ToArray()));
            }
        }
        return all;
    }

    [Fact]
    public async Task Should_leave_no_plaintext_byte_of_an_uploaded_csv_in_the_data_directory_or_the_bucket()
    {
        await using var server = await TestServer.StartAsync();
        var client = server.Client();
        var (csv, markers) = Marked();
        var version = await client.Datasets.UploadAsync("marked", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
        // Trained (a job process reads the data), registered, deployed and called.
        var job = await client.Jobs.TrainAsync(new TrainRequest("marked", "fraud", Register: "marked"), Ct);
        Assert.Equal(JobStatus.Succeeded, (await client.Jobs.WaitAsync(job.Id, ct: Ct)).Status);
        await client.Endpoints.DeployAsync("marked", "marked:1", Ct);
        using (var http = server.Http(server.AdminToken))
        {
            var predicted = await http.PostAsJsonAsync("api/v1/endpoints/marked/predict", new { instances = new[] { new { note = markers[0], amount = 350 } } }, Ct);
            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
        }

        // The console's sign-in form makes its data-protection key (which signs cookies and forms): sealed on disk.
        await SignInPageAsync(server);
        var cookieKeys = Directory.GetFiles(Path.Combine(server.DataDir, "keys"), "key-*.xml");
        Assert.NotEmpty(cookieKeys);
        Assert.All(cookieKeys, f => Assert.Matches("<sealed[^>]*>sealed:1:", File.ReadAllText(f)));
        Assert.All(cookieKeys, f => Assert.DoesNotContain("<value>", File.ReadAllText(f), StringComparison.Ordinal));

        var stored = await EverythingStoredAsync(server);
        Assert.NotEmpty(stored);
        foreach (var marker in markers.Append("note,amount,fraud"))
        {
            var bytes = Encoding.UTF8.GetBytes(marker);
            var found = stored.Where(s => s.Bytes.AsSpan().IndexOf(bytes) >= 0).Select(s => s.Where).ToList();
            Assert.True(found.Count == 0, $"'{marker}' in {string.Join(", ", found)}");
        }
        // What the users get back is the data.
        var file = Path.Combine(server.DataDir, "..", $"marked-{Guid.NewGuid():N}.csv");
        try
        {
            await client.Datasets.DownloadAsync($"marked:{version.Version}", file, "csv", ct: Ct);
            Assert.Contains(markers[1], await File.ReadAllTextAsync(file, Ct), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Should_rotate_the_key_encryption_key_rewrapping_every_data_key_without_rewriting_a_blob()
    {
        var dataDir = Directory.CreateTempSubdirectory("stratus-rotate-").FullName;
        try
        {
            var (csv, markers) = Marked();
            List<StoredBlob> before;
            string oldKey;
            await using (var server = await TestServer.StartAsync(dataDir: dataDir))
            {
                var client = server.Client();
                await client.Datasets.UploadAsync("rotated", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
                var keys = await client.KeysAsync(Ct);
                var active = Assert.Single(keys);
                Assert.True(active.Active);
                Assert.True(active.DataKeys >= 1, $"{active.DataKeys} data keys");
                oldKey = active.Id;
                before = await ListAsync(server);
                await SignInPageAsync(server); // makes the console's cookie key, sealed under the database's key

                var rotation = await client.RotateKeysAsync(Ct);
                Assert.NotEqual(oldKey, rotation.ActiveKey);
                Assert.Equal(active.DataKeys, rotation.Rewrapped);
                Assert.Equal([oldKey], rotation.Retired);

                // The blobs are the same objects, still readable; the key file holds only the new key.
                Assert.Equal(before, await ListAsync(server));
                Assert.Contains(markers[2], (await client.Datasets.PreviewAsync("rotated", ct: Ct)).Rows.SelectMany(r => r));
                var lines = (await File.ReadAllLinesAsync(Path.Combine(dataDir, "keys", "master.keys"), Ct)).Where(l => l.Length > 0).ToList();
                Assert.Equal(rotation.ActiveKey, Assert.Single(lines).Split(':')[0]);
                var after = await client.KeysAsync(Ct);
                Assert.Equal(active.DataKeys, Assert.Single(after, k => k.Active).DataKeys);
                Assert.NotNull(Assert.Single(after, k => k.Id == oldKey).RetiredAt);
            }

            // A new process reads everything under the new key, the console's cookie key too (no new one made).
            await using (var again = await TestServer.StartAsync(dataDir: dataDir))
            {
                await SignInPageAsync(again);
                Assert.Single(Directory.GetFiles(Path.Combine(dataDir, "keys"), "key-*.xml"));
                Assert.Contains(markers[0], (await again.Client().Datasets.PreviewAsync("rotated", ct: Ct)).Rows.SelectMany(r => r));
                Assert.Equal(before, await ListAsync(again));
            }
        }
        finally
        {
            TestServer.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task Should_wrap_data_keys_with_kms_keys_that_never_leave_the_key_service_and_rotate_between_them()
    {
        var moto = await MotoServer.Shared.Value;
        using var kms = moto.KmsClient();
        var first = (await kms.CreateKeyAsync(new CreateKeyRequest { Description = "stratus test, first" }, Ct)).KeyMetadata.Arn;
        var second = (await kms.CreateKeyAsync(new CreateKeyRequest { Description = "stratus test, second" }, Ct)).KeyMetadata.KeyId;
        Action<Hosting.StratusOptions> Keys(string keys) => o =>
        {
            o.Storage.KmsKeys = keys;
            o.Storage.KmsEndpoint = moto.Endpoint;
        };
        var dataDir = Directory.CreateTempSubdirectory("stratus-kms-").FullName;
        try
        {
            var (csv, markers) = Marked();
            string firstId;
            int wrapped;
            await using (var server = await TestServer.StartAsync(Keys(first), dataDir))
            {
                var client = server.Client();
                await client.Datasets.UploadAsync("kms", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
                // A job process opens the dataset with the key service too (the node's settings are its own).
                var job = await client.Jobs.TrainAsync(new TrainRequest("kms", "fraud"), Ct);
                Assert.Equal(JobStatus.Succeeded, (await client.Jobs.WaitAsync(job.Id, ct: Ct)).Status);
                var key = Assert.Single(await client.KeysAsync(Ct));
                (firstId, wrapped) = (key.Id, key.DataKeys);
                Assert.True(wrapped >= 2, $"{wrapped} data keys"); // the dataset's blob and the database's own key at least
                Assert.False(File.Exists(Path.Combine(dataDir, "keys", "master.keys")), "a key file was made");

                // Each wrapped data key is the key service's ciphertext, opened by the service for its own blob only.
                using var scope = server.Services.CreateScope();
                var rows = await scope.ServiceProvider.GetRequiredService<StratusDb>().DataKeys.AsNoTracking().ToListAsync(Ct);
                Assert.All(rows, r => Assert.Equal(firstId, r.KeyId));
                var (row, other) = (rows[0], rows[1]);
                DecryptRequest Open(string blob) => new()
                {
                    CiphertextBlob = new MemoryStream(row.Wrapped),
                    EncryptionContext = new() { ["stratus:blob"] = blob, ["stratus:kek"] = row.KeyId },
                };
                Assert.Equal(32, (await kms.DecryptAsync(Open(row.Sha256), Ct)).Plaintext.Length);
                await Assert.ThrowsAsync<InvalidCiphertextException>(() => kms.DecryptAsync(Open(other.Sha256), Ct));
            }

            // Rotation to the key listed last: every data key re-wrapped under it, the first key retired.
            await using (var server = await TestServer.StartAsync(Keys($"{first},{second}"), dataDir))
            {
                var rotation = await server.Client().RotateKeysAsync(Ct);
                Assert.NotEqual(firstId, rotation.ActiveKey);
                Assert.Equal(wrapped, rotation.Rewrapped);
                Assert.Equal([firstId], rotation.Retired);
            }
            // The second key alone opens everything; the first alone cannot start a node, and says which key it lacks.
            await using (var server = await TestServer.StartAsync(Keys(second), dataDir))
            {
                Assert.Contains(markers[0], (await server.Client().Datasets.PreviewAsync("kms", ct: Ct)).Rows.SelectMany(r => r));
            }
            var lacking = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(Keys(first), dataDir));
            Assert.Contains("not among this node's keys", lacking.Message, StringComparison.Ordinal);

            // A disabled key refuses the start, by name.
            await kms.DisableKeyAsync(new DisableKeyRequest { KeyId = second }, Ct);
            var disabled = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(Keys(second), dataDir));
            Assert.Contains($"KMS key {second} of Stratus:KmsKeys is Disabled", disabled.Message, StringComparison.Ordinal);

            // Two sources at once are refused.
            var both = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(o =>
            {
                Keys(second)(o);
                o.Storage.MasterKey = $"ab:{Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}";
            }, dataDir));
            Assert.Contains("Stratus:MasterKey and Stratus:KmsKeys are set at once", both.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestServer.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task Should_wrap_data_keys_with_keys_that_never_leave_a_pkcs11_token_and_rotate_between_them()
    {
        var token = await SoftHsm.TokenAsync();
        Action<Hosting.StratusOptions> Keys(string labels, string pin = SoftHsm.Pin) => o =>
        {
            o.Storage.Pkcs11Library = SoftHsm.Module;
            o.Storage.Pkcs11Token = token;
            o.Storage.Pkcs11Pin = pin;
            o.Storage.Pkcs11Keys = labels;
        };
        var dataDir = Directory.CreateTempSubdirectory("stratus-pkcs11-").FullName;
        try
        {
            var (csv, markers) = Marked();
            string firstId;
            int wrapped;
            // The first start makes the key in the token.
            await using (var server = await TestServer.StartAsync(Keys("kek-1"), dataDir))
            {
                var client = server.Client();
                await client.Datasets.UploadAsync("hsm", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
                var job = await client.Jobs.TrainAsync(new TrainRequest("hsm", "fraud"), Ct); // a job process logs in to the token too
                Assert.Equal(JobStatus.Succeeded, (await client.Jobs.WaitAsync(job.Id, ct: Ct)).Status);
                var key = Assert.Single(await client.KeysAsync(Ct));
                (firstId, wrapped) = (key.Id, key.DataKeys);
                Assert.True(wrapped >= 2, $"{wrapped} data keys");
                Assert.False(File.Exists(Path.Combine(dataDir, "keys", "master.keys")), "a key file was made");
            }

            // A second label listed last is made at start; rotation re-wraps everything under it.
            await using (var server = await TestServer.StartAsync(Keys("kek-1,kek-2"), dataDir))
            {
                var rotation = await server.Client().RotateKeysAsync(Ct);
                Assert.Equal(wrapped, rotation.Rewrapped);
                Assert.Equal([firstId], rotation.Retired);
            }
            await using (var server = await TestServer.StartAsync(Keys("kek-2"), dataDir))
            {
                Assert.Contains(markers[0], (await server.Client().Datasets.PreviewAsync("hsm", ct: Ct)).Rows.SelectMany(r => r));
            }

            // The first key alone lacks the second: the start is refused, by name.
            var lacking = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(Keys("kek-1"), dataDir));
            Assert.Contains("not among this node's keys", lacking.Message, StringComparison.Ordinal);
            // A token that is not there is refused by name.
            var missing = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(o =>
            {
                Keys("kek-2")(o);
                o.Storage.Pkcs11Token = "no-such-token";
            }, dataDir));
            Assert.Contains("no token of", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestServer.TryDelete(dataDir);
        }
    }

    private static async Task SignInPageAsync(TestServer server)
    {
        using var browser = new HttpClient { BaseAddress = new Uri(server.Url + "/") };
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("signin", Ct)).StatusCode); // the page's state is protected with the key
    }

    private static async Task<List<StoredBlob>> ListAsync(TestServer server)
    {
        var all = new List<StoredBlob>();
        await foreach (var blob in server.Services.GetRequiredService<IBlobStore>().ListAsync(Ct)) all.Add(blob);
        return [.. all.OrderBy(b => b.Sha256)];
    }

    [Fact]
    public async Task Should_refuse_to_start_without_the_right_key_and_change_nothing()
    {
        var dataDir = Directory.CreateTempSubdirectory("stratus-wrongkey-").FullName;
        var keyFile = Path.Combine(dataDir, "keys", "master.keys");
        try
        {
            var (csv, markers) = Marked();
            await using (var server = await TestServer.StartAsync(dataDir: dataDir))
            {
                await server.Client().Datasets.UploadAsync("kept", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
            }
            var right = await File.ReadAllTextAsync(keyFile, Ct);
            var id = right.Split(':')[0];

            // The key file lost: no new key is made over data it could not read.
            File.Delete(keyFile);
            var missing = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(dataDir: dataDir));
            Assert.Contains($"blobs are encrypted under key {id}", missing.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(keyFile));

            // Another key under the same name.
            var wrong = $"{id}:{Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}\n";
            await File.WriteAllTextAsync(keyFile, wrong, Ct);
            var refused = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(dataDir: dataDir));
            Assert.Contains($"key-encryption key {id}", refused.Message, StringComparison.Ordinal);
            Assert.Contains("fingerprint differs", refused.Message, StringComparison.Ordinal);
            Assert.Equal(wrong, await File.ReadAllTextAsync(keyFile, Ct));

            // A malformed key file names its line.
            await File.WriteAllTextAsync(keyFile, $"{id}:not-base64\n", Ct);
            var malformed = await Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(dataDir: dataDir));
            Assert.Contains("key 1 of", malformed.Message, StringComparison.Ordinal);

            // The right key back: everything as it was.
            await File.WriteAllTextAsync(keyFile, right, Ct);
            await using var restored = await TestServer.StartAsync(dataDir: dataDir);
            Assert.Contains(markers[0], (await restored.Client().Datasets.PreviewAsync("kept", ct: Ct)).Rows.SelectMany(r => r));
        }
        finally
        {
            TestServer.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task Should_refuse_to_serve_a_blob_whose_stored_bytes_were_altered()
    {
        await using var server = await TestServer.StartAsync();
        var client = server.Client();
        var (csv, _) = Marked();
        var version = await client.Datasets.UploadAsync("altered", new MemoryStream(Encoding.UTF8.GetBytes(csv)), ct: Ct);
        // One byte of the stored Parquet flipped, where it lies (a file, or an object rewritten past the store).
        var parquet = (await ListAsync(server)).Select(b => b.Sha256).Single(s => s != version.Sha256);
        var settings = server.Services.GetRequiredService<StorageSettings>();
        if (settings.Store is { } store && store.StartsWith("s3://", StringComparison.Ordinal))
        {
            var moto = await MotoServer.Shared.Value;
            using var s3 = moto.Client();
            var uri = new Uri(store);
            var key = $"{uri.AbsolutePath.Trim('/')}/sha256/{parquet[..2]}/{parquet}".TrimStart('/');
            using var response = await s3.GetObjectAsync(uri.Host, key, Ct);
            using var bytes = new MemoryStream();
            await response.ResponseStream.CopyToAsync(bytes, Ct);
            await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = uri.Host, Key = key, InputStream = new MemoryStream(Flip(bytes.ToArray(), 20)) }, Ct);
        }
        else
        {
            var file = Path.Combine(server.DataDir, "blobs", "sha256", parquet[..2], parquet);
            await File.WriteAllBytesAsync(file, Flip(await File.ReadAllBytesAsync(file, Ct), 20), Ct);
        }

        using var http = server.Http(server.AdminToken);
        var answer = await http.GetAsync($"api/v1/datasets/altered/versions/{version.Version}/content?format=parquet", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, answer.StatusCode);
        var problem = await answer.Content.ReadFromJsonAsync<ProblemDetails>(Ct);
        Assert.Equal("Stored data is corrupt", problem!.Title);
        Assert.Contains(parquet, problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("PAR1", await answer.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        // The server is up, and the other blobs are served.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"api/v1/datasets/altered/versions/{version.Version}", Ct)).StatusCode);
    }
}
