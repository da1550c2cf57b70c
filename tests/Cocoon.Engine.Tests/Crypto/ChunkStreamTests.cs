using System.Security.Cryptography;
using System.Text;
using Cocoon.Engine.Crypto;

namespace Cocoon.Engine.Tests.Crypto;

public sealed class ChunkStreamTests
{
    private static readonly string[] Pieces = ["Once", " upon", " a", " time", ""];

    /// <summary>Gateway seals the job, the worker opens it; both derive the stream key from their HPKE contexts.</summary>
    private static (ChunkSealer Worker, ChunkOpener Gateway) NewStream(string requestId = "req-1")
    {
        using var workerKey = HpkeKeyPair.Generate();
        using var gatewayContext = Hpke.SetupSender(workerKey.PublicKey, "cocoon job v1"u8);
        using var workerContext = Hpke.SetupRecipient(workerKey, gatewayContext.Enc, "cocoon job v1"u8);
        return (ChunkSealer.Create(workerContext, requestId), ChunkOpener.Create(gatewayContext, requestId));
    }

    private static List<SealedChunk> SealAll(ChunkSealer sealer) =>
        [.. Pieces.Select((p, i) => sealer.Seal(Encoding.UTF8.GetBytes(p), isFinal: i == Pieces.Length - 1))];

    [Fact]
    public void In_order_stream_opens_and_both_sides_agree_on_the_transcript_hash()
    {
        var (sealer, opener) = NewStream();
        using (sealer)
        using (opener)
        {
            var chunks = SealAll(sealer);
            Assert.Equal(Enumerable.Range(0, Pieces.Length).Select(i => (long)i), chunks.Select(c => c.Sequence));
            Assert.Equal([false, false, false, false, true], chunks.Select(c => c.IsFinal));

            var text = string.Concat(chunks.Select(c => Encoding.UTF8.GetString(opener.Open(c))));
            Assert.Equal("Once upon a time", text);
            Assert.True(opener.IsComplete);
            opener.Complete();
            Assert.Equal(sealer.TranscriptHash, opener.TranscriptHash);

            using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var c in chunks)
            {
                expected.AppendData([0, 0, (byte)(c.Ciphertext.Length >> 8), (byte)c.Ciphertext.Length]);
                expected.AppendData(c.Ciphertext);
            }

            Assert.Equal(expected.GetHashAndReset(), opener.TranscriptHash);
        }
    }

    [Fact]
    public void Reordered_chunk_is_refused_and_named_when_the_late_chunk_arrives()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        opener.Open(chunks[0]);
        var e = Assert.Throws<ChunkOutOfOrderException>(() => opener.Open(chunks[2]));
        Assert.Equal(2, e.Sequence);
        Assert.Equal(1, e.Expected);
        Assert.Contains("dropped or late", e.Message);

        // The late chunk proves reordering; it is still not opened, and the stream stays refused.
        var reordered = Assert.Throws<ChunkReorderedException>(() => opener.Open(chunks[1]));
        Assert.Equal(1, reordered.Sequence);
        Assert.Equal(2, reordered.ArrivedBefore);
        var after = Assert.Throws<ChunkStreamFailedException>(() => opener.Open(chunks[3]));
        Assert.IsType<ChunkReorderedException>(after.InnerException);
        Assert.Throws<ChunkStreamFailedException>(opener.Complete);
        Assert.False(opener.IsComplete);
    }

    [Fact]
    public void Forged_filler_for_a_gap_is_tampered_not_reordered()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        opener.Open(chunks[0]);
        Assert.Throws<ChunkOutOfOrderException>(() => opener.Open(chunks[2]));
        Assert.Throws<ChunkTamperedException>(() => opener.Open(chunks[3] with { Sequence = 1 }));
    }

    [Fact]
    public void Dropped_middle_chunk_is_refused_and_named_when_the_stream_ends()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        chunks.RemoveAt(1);
        opener.Open(chunks[0]);
        var e = Assert.Throws<ChunkOutOfOrderException>(() => opener.Open(chunks[1]));
        Assert.Equal(1, e.Expected);
        Assert.Throws<ChunkStreamFailedException>(() => opener.Open(chunks[2]));
        var dropped = Assert.Throws<ChunkDroppedException>(opener.Complete);
        Assert.Equal(1, dropped.Missing);
        Assert.Equal(2, dropped.SeenAfter);
        Assert.False(opener.IsComplete);
    }

    [Fact]
    public void Dropped_final_chunk_is_reported_as_truncated()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        foreach (var c in chunks.Take(chunks.Count - 1))
        {
            opener.Open(c);
        }

        var e = Assert.Throws<ChunkStreamTruncatedException>(opener.Complete);
        Assert.Equal(4, e.Received);
        Assert.Throws<InvalidOperationException>(() => opener.TranscriptHash);
    }

    [Fact]
    public void Empty_stream_is_truncated()
    {
        var (_, opener) = NewStream();
        Assert.Throws<ChunkStreamTruncatedException>(opener.Complete);
    }

    [Fact]
    public void Replayed_chunk_is_refused()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        opener.Open(chunks[0]);
        opener.Open(chunks[1]);
        var e = Assert.Throws<ChunkReplayedException>(() => opener.Open(chunks[1]));
        Assert.Equal(1, e.Sequence);
        Assert.Equal(2, e.Expected);
    }

    [Fact]
    public void Chunk_after_the_final_one_is_refused()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        foreach (var c in chunks)
        {
            opener.Open(c);
        }

        // A forged continuation: right sequence number, but the stream is closed.
        var e = Assert.Throws<ChunkAfterFinalException>(() => opener.Open(chunks[0] with { Sequence = chunks.Count }));
        Assert.Equal(chunks.Count, e.Sequence);
        Assert.Throws<InvalidOperationException>(() => sealer.Seal("more"u8, isFinal: false));
    }

    [Fact]
    public void Tampered_ciphertext_is_refused()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        var tampered = (byte[])chunks[0].Ciphertext.Clone();
        tampered[0] ^= 0x01;
        var e = Assert.Throws<ChunkTamperedException>(() => opener.Open(chunks[0] with { Ciphertext = tampered }));
        Assert.Equal(0, e.Sequence);
    }

    [Fact]
    public void Truncated_ciphertext_is_refused_as_tampered()
    {
        var (sealer, opener) = NewStream();
        var chunk = sealer.Seal("hi"u8, isFinal: true);
        Assert.Throws<ChunkTamperedException>(() => opener.Open(chunk with { Ciphertext = chunk.Ciphertext[..10] }));
    }

    [Fact]
    public void Forged_final_flag_cannot_cut_an_answer_short()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        opener.Open(chunks[0]);
        Assert.Throws<ChunkTamperedException>(() => opener.Open(chunks[1] with { IsFinal = true }));
    }

    [Fact]
    public void Relabelled_sequence_number_is_refused()
    {
        var (sealer, opener) = NewStream();
        var chunks = SealAll(sealer);
        // Chunk 1 presented as chunk 0: the AAD and nonce bind the position, so it does not authenticate.
        Assert.Throws<ChunkTamperedException>(() => opener.Open(chunks[1] with { Sequence = 0 }));
    }

    [Fact]
    public void Chunk_from_another_request_is_refused()
    {
        using var workerKey = HpkeKeyPair.Generate();
        using var gateway = Hpke.SetupSender(workerKey.PublicKey, []);
        using var worker = Hpke.SetupRecipient(workerKey, gateway.Enc, []);
        using var sealer = ChunkSealer.Create(worker, "req-A");
        using var opener = ChunkOpener.Create(gateway, "req-B");
        Assert.Throws<ChunkTamperedException>(() => opener.Open(sealer.Seal("x"u8, isFinal: true)));
    }

    [Fact]
    public void Chunk_from_another_job_key_is_refused()
    {
        var (sealerA, _) = NewStream("same-id");
        var (_, openerB) = NewStream("same-id");
        Assert.Throws<ChunkTamperedException>(() => openerB.Open(sealerA.Seal("x"u8, isFinal: true)));
    }

    [Fact]
    public void Stream_key_must_be_32_bytes()
    {
        Assert.Throws<ArgumentException>(() => new ChunkSealer(new byte[16], "r"));
        Assert.Throws<ArgumentException>(() => new ChunkOpener(new byte[32], ""));
    }

    [Fact]
    public void Sealer_and_opener_built_from_raw_exported_keys_interoperate()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var sealer = new ChunkSealer(key, "req-raw");
        using var opener = new ChunkOpener(key, "req-raw");
        var big = RandomNumberGenerator.GetBytes(100_000);
        Assert.Equal(big, opener.Open(sealer.Seal(big, isFinal: false)));
        Assert.Empty(opener.Open(sealer.Seal([], isFinal: true)));
        opener.Complete();
    }
}
