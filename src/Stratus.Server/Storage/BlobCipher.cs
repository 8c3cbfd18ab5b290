using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Stratus.Server.Storage;

/// <summary>
/// The format of an encrypted blob: an 8-byte magic (<c>STRXENC1</c>), then the plaintext in chunks of 64 KiB, each
/// sealed with AES-256-GCM under the blob's own data key as its ciphertext followed by its 16-byte tag. A chunk's nonce
/// is its index and, in the last byte, whether it is the last chunk (the STREAM construction): a reordered, dropped,
/// truncated or extended blob fails authentication, and every chunk is authenticated before a byte of it is released.
/// The data key is used for no other plaintext (it is one blob's; <see cref="IDataKeys"/>), so counter nonces never
/// repeat under one key with other bytes.
/// </summary>
internal static class BlobCipher
{
    public const int ChunkBytes = 64 * 1024;
    public const int TagBytes = 16;
    public const int KeyBytes = 32;
    private static readonly byte[] Magic = "STRXENC1"u8.ToArray();

    /// <summary>A fresh data key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>
    /// A small value sealed whole (a wrapped data key, a metadata column): a random nonce, the ciphertext and the tag,
    /// with <paramref name="associated"/> bound to it.
    /// </summary>
    public static byte[] SealValue(byte[] key, ReadOnlySpan<byte> plain, ReadOnlySpan<byte> associated = default)
    {
        var sealedValue = new byte[12 + plain.Length + TagBytes];
        RandomNumberGenerator.Fill(sealedValue.AsSpan(0, 12));
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(sealedValue.AsSpan(0, 12), plain, sealedValue.AsSpan(12, plain.Length), sealedValue.AsSpan(12 + plain.Length), associated);
        return sealedValue;
    }

    /// <summary>What <see cref="SealValue"/> sealed; null when it fails authentication (another key, other associated data, altered bytes).</summary>
    public static byte[]? OpenValue(byte[] key, ReadOnlySpan<byte> sealedValue, ReadOnlySpan<byte> associated = default)
    {
        if (sealedValue.Length < 12 + TagBytes) return null;
        var plain = new byte[sealedValue.Length - 12 - TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        try
        {
            aes.Decrypt(sealedValue[..12], sealedValue.Slice(12, plain.Length), sealedValue[(12 + plain.Length)..], plain, associated);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return plain;
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="output"/>, hashing the plaintext on the way: the SHA-256
    /// (its content address) and size of what was read.
    /// </summary>
    public static async Task<(string Sha256, long Size)> SealAsync(Stream plaintext, Stream output, byte[] key, CancellationToken ct)
    {
        using var aes = new AesGcm(key, TagBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var current = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var next = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var sealedChunk = ArrayPool<byte>.Shared.Rent(ChunkBytes + TagBytes);
        try
        {
            await output.WriteAsync(Magic, ct);
            long size = 0;
            long index = 0;
            var filled = await FillAsync(plaintext, current, ct);
            while (true)
            {
                // One chunk ahead: a chunk is the last one when nothing follows it.
                var following = filled == ChunkBytes ? await FillAsync(plaintext, next, ct) : 0;
                var last = following == 0;
                hash.AppendData(current, 0, filled);
                size += filled;
                aes.Encrypt(Nonce(index, last), current.AsSpan(0, filled), sealedChunk.AsSpan(0, filled), sealedChunk.AsSpan(filled, TagBytes));
                await output.WriteAsync(sealedChunk.AsMemory(0, filled + TagBytes), ct);
                if (last) break;
                (current, next) = (next, current);
                filled = following;
                index++;
            }
            return (Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
            ArrayPool<byte>.Shared.Return(sealedChunk);
        }
    }

    /// <summary>Whether a stored blob begins as an encrypted one does.</summary>
    public static bool IsSealed(ReadOnlySpan<byte> head) => head.StartsWith(Magic);

    /// <summary>Reads to the buffer's end or the stream's; how many bytes came.</summary>
    private static async ValueTask<int> FillAsync(Stream stream, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        while (filled < ChunkBytes)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(filled, ChunkBytes - filled), ct);
            if (n == 0) break;
            filled += n;
        }
        return filled;
    }

    private static byte[] Nonce(long index, bool last)
    {
        var nonce = new byte[12];
        BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(3, 8), index);
        nonce[11] = last ? (byte)1 : (byte)0;
        return nonce;
    }

    /// <summary>
    /// The plaintext of a sealed blob, chunk by chunk, each authenticated before it is read: a chunk whose tag fails, a
    /// missing last chunk or bytes after it throw <see cref="CorruptBlobException"/>.
    /// </summary>
    internal sealed class OpenStream(Stream inner, byte[] key, string sha256) : Stream
    {
        private readonly AesGcm _aes = new(key, TagBytes);
        private readonly byte[] _sealed = new byte[ChunkBytes + TagBytes + 1];
        private readonly byte[] _plain = new byte[ChunkBytes];
        private int _sealedFilled;
        private int _plainStart;
        private int _plainEnd;
        private long _index;
        private bool _started;
        private bool _done;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.Length == 0) return 0;
            while (_plainStart == _plainEnd)
            {
                if (_done) return 0;
                await NextChunkAsync(cancellationToken);
            }
            var n = Math.Min(buffer.Length, _plainEnd - _plainStart);
            _plain.AsSpan(_plainStart, n).CopyTo(buffer.Span);
            _plainStart += n;
            return n;
        }

        private async Task NextChunkAsync(CancellationToken ct)
        {
            if (!_started)
            {
                var head = new byte[Magic.Length];
                if (await ReadFullAsync(head, 0, head.Length, ct) != head.Length || !IsSealed(head))
                    throw Corrupt("it is not an encrypted blob");
                _started = true;
            }
            // A full chunk and one byte more tell whether this chunk is the last: the byte after it is kept for the next.
            _sealedFilled += await ReadFullAsync(_sealed, _sealedFilled, _sealed.Length - _sealedFilled, ct);
            var last = _sealedFilled <= ChunkBytes + TagBytes;
            var length = last ? _sealedFilled : ChunkBytes + TagBytes;
            if (length < TagBytes) throw Corrupt("it ends inside a chunk");
            var plain = length - TagBytes;
            try
            {
                _aes.Decrypt(Nonce(_index, last), _sealed.AsSpan(0, plain), _sealed.AsSpan(plain, TagBytes), _plain.AsSpan(0, plain));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw Corrupt($"chunk {_index} fails authentication (altered, truncated or sealed under another key)");
            }
            (_plainStart, _plainEnd) = (0, plain);
            if (last)
            {
                _done = true;
            }
            else
            {
                _sealed[0] = _sealed[ChunkBytes + TagBytes];
                _sealedFilled = 1;
                _index++;
            }
        }

        private async Task<int> ReadFullAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        {
            var filled = 0;
            while (filled < count)
            {
                var n = await inner.ReadAsync(buffer.AsMemory(offset + filled, count - filled), ct);
                if (n == 0) break;
                filled += n;
            }
            return filled;
        }

        private CorruptBlobException Corrupt(string why) => new(sha256, why);

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _aes.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
