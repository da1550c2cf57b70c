using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Engine.Crypto;

namespace Cocoon.Engine.Tests.Crypto;

public sealed class HpkeTests
{
    // RFC 9180 Appendix A.2.1, embedded in the assembly so the Engine's tests read no files.
    private static readonly JsonObject Vector = LoadVector("hpke-rfc9180-a2-base.json");

    private static byte[] V(string name) => Convert.FromHexString(Vector[name]!.GetValue<string>());

    private static byte[] Bytes(JsonNode? node) => Convert.FromHexString(node!.GetValue<string>());

    private static JsonObject LoadVector(string name)
    {
        using var stream = typeof(HpkeTests).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is not embedded in the test assembly");
        return (JsonObject)JsonNode.Parse(stream)!;
    }

    [Fact]
    public void Vector_is_the_suite_we_implement()
    {
        Assert.Equal(0, Vector["mode"]!.GetValue<int>());
        Assert.Equal(0x20, Vector["kem_id"]!.GetValue<int>());
        Assert.Equal(1, Vector["kdf_id"]!.GetValue<int>());
        Assert.Equal(3, Vector["aead_id"]!.GetValue<int>());
    }

    [Fact]
    public void DeriveKeyPair_matches_rfc_vector()
    {
        Assert.Equal(V("skEm"), HpkeKeyPair.DerivePrivateKeyBytes(V("ikmE")));
        Assert.Equal(V("skRm"), HpkeKeyPair.DerivePrivateKeyBytes(V("ikmR")));
        using var e = HpkeKeyPair.Derive(V("ikmE"));
        using var r = HpkeKeyPair.Derive(V("ikmR"));
        Assert.Equal(V("pkEm"), e.PublicKey);
        Assert.Equal(V("pkRm"), r.PublicKey);
    }

    [Fact]
    public void Key_schedule_matches_rfc_vector_on_both_sides()
    {
        using var ephemeral = HpkeKeyPair.Derive(V("ikmE"));
        using var recipient = HpkeKeyPair.Derive(V("ikmR"));
        using var sender = Hpke.SetupSender(V("pkRm"), V("info"), ephemeral);
        using var receiver = Hpke.SetupRecipient(recipient, V("enc"), V("info"));

        Assert.Equal(V("enc"), sender.Enc);
        foreach (HpkeContext context in new HpkeContext[] { sender, receiver })
        {
            Assert.Equal(V("key_schedule_context"), context.KeyScheduleContext);
            Assert.Equal(V("base_nonce"), context.BaseNonce.ToArray());
            Assert.Equal(V("exporter_secret"), context.ExporterSecret.ToArray());
        }

        // The secret and key are not kept: recompute them from the vector's shared secret to check that path too.
        var schedule = Hpke.KeySchedule(V("shared_secret"), V("info"));
        Assert.Equal(V("key"), schedule.Key);
        Assert.Equal(V("base_nonce"), schedule.BaseNonce);
    }

    [Fact]
    public void All_six_encryptions_match_rfc_vector_including_sequence_255_and_256()
    {
        using var ephemeral = HpkeKeyPair.Derive(V("ikmE"));
        using var recipient = HpkeKeyPair.Derive(V("ikmR"));
        using var sender = Hpke.SetupSender(V("pkRm"), V("info"), ephemeral);
        using var receiver = Hpke.SetupRecipient(recipient, V("enc"), V("info"));

        var encryptions = Vector["encryptions"]!.AsArray();
        Assert.Equal(6, encryptions.Count);
        foreach (var e in encryptions)
        {
            var seq = e!["seq"]!.GetValue<ulong>();
            var pt = Bytes(e["pt"]);
            var aad = Bytes(e["aad"]);
            var ct = Bytes(e["ct"]);

            sender.Sequence = seq;
            Assert.Equal(ct, sender.Seal(aad, pt));
            Assert.Equal(seq + 1, sender.Sequence);

            receiver.Sequence = seq;
            Assert.Equal(pt, receiver.Open(aad, ct));
        }
    }

    [Fact]
    public void Sequential_sealing_reaches_the_vector_at_256_without_setting_the_counter()
    {
        using var ephemeral = HpkeKeyPair.Derive(V("ikmE"));
        using var sender = Hpke.SetupSender(V("pkRm"), V("info"), ephemeral);
        var last = Vector["encryptions"]!.AsArray().Last()!;
        for (var i = 0; i < 256; i++)
        {
            sender.Seal([], []);
        }

        Assert.Equal(Bytes(last["ct"]), sender.Seal(Bytes(last["aad"]), Bytes(last["pt"])));
    }

    [Fact]
    public void All_three_exports_match_rfc_vector()
    {
        using var recipient = HpkeKeyPair.Derive(V("ikmR"));
        using var receiver = Hpke.SetupRecipient(recipient, V("enc"), V("info"));
        var exports = Vector["exports"]!.AsArray();
        Assert.Equal(3, exports.Count);
        foreach (var e in exports)
        {
            Assert.Equal(
                Bytes(e!["exported_value"]),
                receiver.Export(Bytes(e["exporter_context"]), e["L"]!.GetValue<int>()));
        }
    }

    [Fact]
    public void Single_shot_round_trip_with_generated_keys()
    {
        using var recipient = HpkeKeyPair.Generate();
        var sealedMessage = Hpke.Seal(recipient.PublicKey, "job"u8, "aad"u8, "hello worker"u8);
        Assert.Equal(32, sealedMessage.Enc.Length);
        Assert.Equal("hello worker"u8.Length + 16, sealedMessage.Ciphertext.Length);
        Assert.Equal("hello worker"u8.ToArray(), Hpke.Open(recipient, sealedMessage.Enc, "job"u8, "aad"u8, sealedMessage.Ciphertext));
    }

    [Fact]
    public void Private_keys_are_not_public_and_are_wiped_on_dispose()
    {
        // Nothing outside the engine can read the scalar: the only public members are the public key and Dispose.
        var exposed = typeof(HpkeKeyPair).GetMembers(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly)
            .Select(m => m.Name).Order().ToArray();
        Assert.Equal(["Dispose", "PublicKey", "get_PublicKey"], exposed);
        var generated = HpkeKeyPair.Generate();
        var derived = HpkeKeyPair.Derive(RandomNumberGenerator.GetBytes(32));
        foreach (var pair in new[] { generated, derived })
        {
            var scalar = typeof(HpkeKeyPair).GetField("_privateKey", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(pair) as byte[];
            Assert.NotNull(scalar);
            Assert.Contains(scalar, b => b != 0);
            pair.Dispose();
            Assert.All(scalar, b => Assert.Equal(0, b));
            Assert.Throws<ObjectDisposedException>(() => Hpke.SetupRecipient(pair, new byte[32], "job"u8));
        }
    }

    [Fact]
    public void Derive_needs_enough_input_keying_material_and_is_deterministic()
    {
        Assert.Throws<ArgumentException>(() => HpkeKeyPair.Derive(new byte[31]));
        var ikm = RandomNumberGenerator.GetBytes(48);
        using var a = HpkeKeyPair.Derive(ikm);
        using var b = HpkeKeyPair.Derive(ikm);
        Assert.Equal(a.PublicKey, b.PublicKey);
    }

    [Fact]
    public void Context_round_trips_messages_of_many_sizes()
    {
        using var recipient = HpkeKeyPair.Generate();
        using var sender = Hpke.SetupSender(recipient.PublicKey, "sizes"u8);
        using var receiver = Hpke.SetupRecipient(recipient, sender.Enc, "sizes"u8);
        foreach (var size in new[] { 0, 1, 15, 16, 17, 63, 64, 65, 1000, 65_536 })
        {
            var plaintext = RandomNumberGenerator.GetBytes(size);
            var aad = RandomNumberGenerator.GetBytes(size % 40);
            var ciphertext = sender.Seal(aad, plaintext);
            Assert.Equal(size + 16, ciphertext.Length);
            Assert.Equal(plaintext, receiver.Open(aad, ciphertext));
        }
    }

    [Fact]
    public void Two_seals_to_the_same_key_use_fresh_ephemeral_keys()
    {
        using var recipient = HpkeKeyPair.Generate();
        var a = Hpke.Seal(recipient.PublicKey, [], [], "same"u8);
        var b = Hpke.Seal(recipient.PublicKey, [], [], "same"u8);
        Assert.NotEqual(a.Enc, b.Enc);
        Assert.NotEqual(a.Ciphertext, b.Ciphertext);
    }

    [Fact]
    public void Open_refuses_wrong_info_aad_key_enc_and_tampered_ciphertext()
    {
        using var recipient = HpkeKeyPair.Generate();
        using var stranger = HpkeKeyPair.Generate();
        var m = Hpke.Seal(recipient.PublicKey, "info"u8, "aad"u8, "secret prompt"u8);

        Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, m.Enc, "other"u8, "aad"u8, m.Ciphertext));
        Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, m.Enc, "info"u8, "other"u8, m.Ciphertext));
        Assert.Throws<CryptographicException>(() => Hpke.Open(stranger, m.Enc, "info"u8, "aad"u8, m.Ciphertext));
        Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, stranger.PublicKey, "info"u8, "aad"u8, m.Ciphertext));
        for (var i = 0; i < m.Ciphertext.Length; i += 7)
        {
            var tampered = (byte[])m.Ciphertext.Clone();
            tampered[i] ^= 0x01;
            var e = Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, m.Enc, "info"u8, "aad"u8, tampered));
            Assert.Contains("tag does not verify", e.Message);
        }

        Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, m.Enc, "info"u8, "aad"u8, m.Ciphertext.AsSpan(0, 15)));
    }

    [Fact]
    public void Malformed_and_small_order_public_keys_are_refused_with_a_clear_message()
    {
        using var recipient = HpkeKeyPair.Generate();
        var shortKey = Assert.Throws<CryptographicException>(() => Hpke.Seal(new byte[31], [], [], "x"u8));
        Assert.Contains("32 bytes", shortKey.Message);

        // The all-zero point has small order: X25519 yields all zeros, which RFC 9180 requires to be refused.
        var zero = Assert.Throws<CryptographicException>(() => Hpke.Seal(new byte[32], [], [], "x"u8));
        Assert.Contains("small order", zero.Message);
        Assert.Throws<CryptographicException>(() => Hpke.Open(recipient, new byte[32], [], [], new byte[32]));
    }

    [Fact]
    public void Context_messages_must_be_opened_in_order()
    {
        using var recipient = HpkeKeyPair.Generate();
        using var sender = Hpke.SetupSender(recipient.PublicKey, "i"u8);
        using var receiver = Hpke.SetupRecipient(recipient, sender.Enc, "i"u8);
        var c0 = sender.Seal([], "zero"u8);
        var c1 = sender.Seal([], "one"u8);
        Assert.Throws<CryptographicException>(() => receiver.Open([], c1));
        Assert.Equal("zero"u8.ToArray(), receiver.Open([], c0));
        Assert.Equal("one"u8.ToArray(), receiver.Open([], c1));
        Assert.Equal(sender.Export("x"u8, 64), receiver.Export("x"u8, 64));
    }

    [Fact]
    public void Sequence_overflow_is_refused_before_a_nonce_repeats()
    {
        using var recipient = HpkeKeyPair.Generate();
        using var sender = Hpke.SetupSender(recipient.PublicKey, []);
        sender.Sequence = ulong.MaxValue - 1;
        sender.Seal([], "last"u8);
        var e = Assert.Throws<CryptographicException>(() => sender.Seal([], "one too many"u8));
        Assert.Contains("overflow", e.Message);
    }

    [Fact]
    public void Export_length_limits_are_enforced()
    {
        using var recipient = HpkeKeyPair.Generate();
        using var sender = Hpke.SetupSender(recipient.PublicKey, []);
        Assert.Equal(255 * 32, sender.Export([], 255 * 32).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => sender.Export([], 255 * 32 + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sender.Export([], 0));
    }

    [Fact]
    public void Disposed_context_refuses_use()
    {
        using var recipient = HpkeKeyPair.Generate();
        var sender = Hpke.SetupSender(recipient.PublicKey, []);
        sender.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sender.Seal([], "x"u8));
        Assert.Throws<ObjectDisposedException>(() => sender.Export([], 32));
    }
}
