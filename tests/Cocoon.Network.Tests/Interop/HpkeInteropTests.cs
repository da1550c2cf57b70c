using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Engine.Crypto;

namespace Cocoon.Network.Tests.Interop;

/// <summary>
/// Our HPKE (Cocoon.Engine/Crypto) against an independent implementation (@hpke/* in Node): what one side seals the
/// other opens, both ways. The Engine's own tests check the RFC 9180 vectors without any peer.
/// </summary>
public sealed class HpkeInteropTests
{
    [Fact]
    public async Task Node_sealed_messages_open_in_csharp()
    {
        using var recipient = HpkeKeyPair.Generate();
        var messages = new[] { "first prompt ✓", "", new string('x', 5000) };
        var answer = await NodeHpke.RunAsync(new JsonObject
        {
            ["op"] = "seal",
            ["recipientPublicKey"] = NodeHpke.Hex(recipient.PublicKey),
            ["info"] = NodeHpke.Hex("cocoon job v1"u8),
            ["messages"] = NodeHpke.Array(messages.Select((m, i) => (JsonNode)new JsonObject
            {
                ["aad"] = NodeHpke.Hex(Encoding.UTF8.GetBytes($"aad-{i}")),
                ["pt"] = NodeHpke.Hex(Encoding.UTF8.GetBytes(m)),
            })),
            ["exports"] = NodeHpke.Array([new JsonObject { ["context"] = NodeHpke.Hex("cocoon stream v1"u8), ["length"] = 32 }]),
        });

        var enc = NodeHpke.Bytes(answer["enc"]);
        var ciphertexts = answer["ciphertexts"]!.AsArray().Select(NodeHpke.Bytes).ToArray();
        using var receiver = Hpke.SetupRecipient(recipient, enc, "cocoon job v1"u8);
        for (var i = 0; i < messages.Length; i++)
        {
            Assert.Equal(messages[i], Encoding.UTF8.GetString(receiver.Open(Encoding.UTF8.GetBytes($"aad-{i}"), ciphertexts[i])));
        }

        Assert.Equal(NodeHpke.Bytes(answer["exports"]![0]), receiver.Export("cocoon stream v1"u8, 32));

        // The single-shot API opens Node's first message too.
        Assert.Equal(Encoding.UTF8.GetBytes(messages[0]), Hpke.Open(recipient, enc, "cocoon job v1"u8, "aad-0"u8, ciphertexts[0]));
    }

    [Fact]
    public async Task Csharp_sealed_messages_open_in_node()
    {
        var ikm = RandomNumberGenerator.GetBytes(32);
        using var recipient = HpkeKeyPair.Derive(ikm);
        using var sender = Hpke.SetupSender(recipient.PublicKey, "cocoon job v1"u8);
        var plaintexts = new[] { "bonjour ✓", "second", "" };
        var ciphertexts = plaintexts.Select((p, i) => sender.Seal(Encoding.UTF8.GetBytes($"aad-{i}"), Encoding.UTF8.GetBytes(p))).ToArray();

        var answer = await NodeHpke.RunAsync(new JsonObject
        {
            ["op"] = "open",
            ["ikm"] = NodeHpke.Hex(ikm),
            ["enc"] = NodeHpke.Hex(sender.Enc),
            ["info"] = NodeHpke.Hex("cocoon job v1"u8),
            ["messages"] = NodeHpke.Array(ciphertexts.Select((c, i) => (JsonNode)new JsonObject
            {
                ["aad"] = NodeHpke.Hex(Encoding.UTF8.GetBytes($"aad-{i}")),
                ["ct"] = NodeHpke.Hex(c),
            })),
            ["exports"] = NodeHpke.Array([new JsonObject { ["context"] = NodeHpke.Hex("cocoon stream v1"u8), ["length"] = 32 }]),
        });

        // Node derived the same key pair from the same ikm (DeriveKeyPair interop) and opened every message.
        Assert.Equal(NodeHpke.Hex(recipient.PublicKey), answer["publicKey"]!.GetValue<string>());
        Assert.Equal(plaintexts, answer["plaintexts"]!.AsArray().Select(p => Encoding.UTF8.GetString(NodeHpke.Bytes(p))).ToArray());
        Assert.Equal(sender.Export("cocoon stream v1"u8, 32), NodeHpke.Bytes(answer["exports"]![0]));
    }

    [Fact]
    public async Task Node_refuses_a_csharp_message_with_a_flipped_bit()
    {
        var ikm = RandomNumberGenerator.GetBytes(32);
        using var recipient = HpkeKeyPair.Derive(ikm);
        var m = Hpke.Seal(recipient.PublicKey, "i"u8, "a"u8, "prompt"u8);
        m.Ciphertext[0] ^= 0x80;
        var answer = await NodeHpke.RunAsync(
            new JsonObject
            {
                ["op"] = "open",
                ["ikm"] = NodeHpke.Hex(ikm),
                ["enc"] = NodeHpke.Hex(m.Enc),
                ["info"] = NodeHpke.Hex("i"u8),
                ["messages"] = NodeHpke.Array([new JsonObject { ["aad"] = NodeHpke.Hex("a"u8), ["ct"] = NodeHpke.Hex(m.Ciphertext) }]),
            },
            expectFailure: true);
        Assert.Contains("OpenError", answer["error"]!.GetValue<string>());
    }
}
