using System.Text.Json.Nodes;
using Cocoon.Bot.Receipts;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Receipts;

/// <summary>
/// A real answer's receipt, as GET /v1/receipts/{id} returns it, checked by an independent verifier written from the
/// format alone (Node's own Ed25519 and SHA-256): it accepts the real receipt and rejects each kind of forgery.
/// </summary>
public sealed class ReceiptVerifierTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly NodeFolder Node = new(Path.Combine("tests", "Cocoon.Network.Tests", "Interop", "node"), Path.Combine("@hpke", "core"));
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task The_node_verifier_accepts_a_real_receipt_and_rejects_each_forgery()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        // Two answers, both receipts anchored as the anchoring period would (the tree and the stored leaves; no chain here).
        var (first, answer, anchored, leaves, root, record, document) = await ReceiptScenario.AnchoredAsync(stack, _ct);
        Assert.Equal(2, anchored.Count);
        var request = Convert.ToBase64String(ReceiptHashes.CanonicalRequest(first.Generation));
        var rootHex = Convert.ToHexStringLower(root);

        var real = await VerifyAsync(document, request, answer, rootHex);
        Assert.True(real["ok"]!.GetValue<bool>(), real.ToJsonString());

        Assert.Equal("response-hash", Failed(await VerifyAsync(document, request, answer + "!", rootHex)));
        var changedRequest = Convert.ToBase64String(ReceiptHashes.CanonicalRequest(first.Generation with { Prompt = "Once upon a tim" }));
        Assert.Equal("request-hash", Failed(await VerifyAsync(document, changedRequest, answer, rootHex)));
        Assert.Equal("inclusion", Failed(await VerifyAsync(document, request, answer, Convert.ToHexStringLower(leaves[0]))));

        // A receipt signed by a key that is not in the attested document.
        var forgedDocument = ReceiptScenario.ForgedDocument(record);
        Assert.Equal("signature", Failed(await VerifyAsync(forgedDocument, request, answer, null)));
    }

    private static string Failed(JsonObject verdict)
    {
        Assert.False(verdict["ok"]!.GetValue<bool>(), verdict.ToJsonString());
        var failed = verdict["checks"]!.AsArray().Where(c => !c!["ok"]!.GetValue<bool>()).Select(c => c!["name"]!.GetValue<string>()).ToList();
        return Assert.Single(failed);
    }

    private static async Task<JsonObject> VerifyAsync(JsonObject receipt, string request, string answer, string? root)
    {
        var input = new JsonObject { ["receipt"] = receipt.DeepClone(), ["request"] = request, ["answer"] = answer };
        if (root is not null)
        {
            input["root"] = root;
        }

        var result = await Node.RunAsync("verify-receipt.mjs", stdin: input.ToJsonString());
        Assert.True(result.ExitCode == 0, result.Stderr);
        return (JsonObject)JsonNode.Parse(result.Stdout)!;
    }
}
