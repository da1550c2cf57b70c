using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Engine.Attestation;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Api;

/// <summary>
/// GET /v1/attestation on the shipped gateway with a real worker: the worker signs a statement over the client's
/// nonce with its attested key; an independent verifier (Node's own Ed25519, no Cocoon code) accepts it and rejects a
/// statement replayed for another nonce or signed by a key outside the document; bad input is a 400 in words.
/// </summary>
public sealed class AttestationEndpointTests(FullStackFixture stack) : IClassFixture<FullStackFixture>
{
    private static readonly NodeFolder Node = new(Path.Combine("tests", "Cocoon.Network.Tests", "Interop", "node"), Path.Combine("@hpke", "core"));

    [Fact]
    public async Task Each_worker_signs_a_fresh_statement_over_the_clients_nonce_that_an_independent_verifier_accepts()
    {
        var session = await stack.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;
        using var client = stack.Gateway.CreateApiClient();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var response = await client.GetAsync($"v1/attestation?model={Uri.EscapeDataString(stack.ModelName)}&nonce={nonce}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var body = (JsonObject)JsonNode.Parse(text)!;
        Assert.Equal(session.ModelSha256.ToLowerInvariant(), body["model_sha256"]!.GetValue<string>());
        var worker = Assert.Single(body["workers"]!.AsArray())!;
        Assert.Equal(session.WorkerId, worker["worker_id"]!.GetValue<string>());
        Assert.Null(worker["error"]);

        // The gateway's own view: the statement verifies under the document, and the document under the published policy.
        var bundle = AttestationBundle.FromJson(worker["attestation"]!.ToJsonString());
        var policy = PublishedPolicy.FromJson(body["policy"]!);
        var verdict = new AttestationVerifier(policy.Policy, TimeProvider.System).Verify(bundle);
        // The fixture runs with the published development switches (any simulated measurement, no model list), which
        // override only those two refusals, as ./cocoon verify applies them.
        Assert.True(verdict.Accepted
            || (verdict.Refusal is AttestationRefusal.UnknownMeasurement or AttestationRefusal.UnknownModel && verdict.IsSimulated && policy.AcceptAnySimulatedMeasurement),
            verdict.Refusal.ToString());
        var signed = new SignedAttestationStatement(
            System.Text.Json.JsonSerializer.Deserialize(Convert.FromBase64String(worker["statement_canonical"]!.GetValue<string>()), AttestationJson.Default.AttestationStatement)!,
            Convert.FromBase64String(worker["signature"]!.GetValue<string>()));
        Assert.NotNull(SignedAttestationStatement.Accept(System.Text.Encoding.UTF8.GetBytes(signed.ToJson()), bundle.Document, Convert.FromHexString(nonce)));

        // The independent verifier accepts it ...
        var real = await VerifyAsync(body, nonce);
        Assert.True(real["ok"]!.GetValue<bool>(), real.ToJsonString());

        // ... and refuses it for another nonce (a replayed statement is not fresh) ...
        Assert.Equal("nonce", Failed(await VerifyAsync(body, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)))));

        // ... and refuses a statement signed by any key but the attested one (what a gateway could make up).
        using var stranger = WorkerIdentity.Create(session.WorkerId);
        var forged = signed.Statement.Sign(stranger);
        var forgedBody = (JsonObject)body.DeepClone();
        forgedBody["workers"]![0]!["signature"] = Convert.ToBase64String(forged.Signature);
        Assert.Equal("signature", Failed(await VerifyAsync(forgedBody, nonce)));
    }

    [Fact]
    public async Task A_sealed_reservation_with_a_nonce_carries_the_reserved_workers_statement_over_it_and_a_bad_nonce_reserves_nothing()
    {
        var session = await stack.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;
        using var client = stack.Gateway.CreateApiClient();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var response = await client.PostAsJsonAsync("v1/sealed/reserve", new { model = stack.ModelName, max_tokens = 8, nonce });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var body = (JsonObject)JsonNode.Parse(text)!;
        Assert.Equal(session.WorkerId, body["worker_id"]!.GetValue<string>());

        // The statement is the reserved worker's, over this nonce, under the document's signing key.
        var document = System.Text.Json.JsonSerializer.Deserialize(Convert.FromBase64String(body["attestation"]!["document"]!.GetValue<string>()), AttestationJson.Default.AttestationDocument)!;
        var statement = new SignedAttestationStatement(
            System.Text.Json.JsonSerializer.Deserialize(Convert.FromBase64String(body["statement"]!["canonical"]!.GetValue<string>()), AttestationJson.Default.AttestationStatement)!,
            Convert.FromBase64String(body["statement"]!["signature"]!.GetValue<string>()));
        var json = System.Text.Encoding.UTF8.GetBytes(statement.ToJson());
        Assert.NotNull(SignedAttestationStatement.Accept(json, document, Convert.FromHexString(nonce)));
        Assert.Null(SignedAttestationStatement.Accept(json, document, RandomNumberGenerator.GetBytes(32)));

        // Without a nonce the reservation is as before: no statement.
        using var plain = await client.PostAsJsonAsync("v1/sealed/reserve", new { model = stack.ModelName, max_tokens = 8 });
        Assert.Null(((JsonObject)JsonNode.Parse(await plain.Content.ReadAsStringAsync())!)["statement"]);

        // A malformed nonce is refused before anything is reserved or held.
        using var bad = await client.PostAsJsonAsync("v1/sealed/reserve", new { model = stack.ModelName, max_tokens = 8, nonce = "abc" });
        var error = (await bad.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("nonce", error["param"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("model=&nonce=00", "model")]
    [InlineData("nonce=0011", "model")]
    [InlineData("model=M&nonce=abc", "nonce")]
    [InlineData("model=M", "nonce")]
    [InlineData("model=M&nonce=zz00000000000000000000000000000000000000000000000000000000000000", "nonce")]
    public async Task Bad_input_is_a_400_that_names_the_parameter(string query, string param)
    {
        using var client = stack.Gateway.CreateApiClient();
        using var response = await client.GetAsync("v1/attestation?" + query.Replace("model=M", "model=" + Uri.EscapeDataString(stack.ModelName), StringComparison.Ordinal));
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, error["param"]!.GetValue<string>());
        Assert.Contains(param, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_model_is_a_404_and_no_key_is_a_401()
    {
        using var client = stack.Gateway.CreateApiClient();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var unknown = await client.GetAsync($"v1/attestation?model=no-such-model&nonce={nonce}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var anonymous = new HttpClient { BaseAddress = stack.Gateway.BaseAddress };
        using var refused = await anonymous.GetAsync($"v1/attestation?model={Uri.EscapeDataString(stack.ModelName)}&nonce={nonce}");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static string Failed(JsonObject verdict)
    {
        Assert.False(verdict["ok"]!.GetValue<bool>(), verdict.ToJsonString());
        var failed = verdict["checks"]!.AsArray().Where(c => !c!["ok"]!.GetValue<bool>()).Select(c => c!["name"]!.GetValue<string>()).ToList();
        return Assert.Single(failed);
    }

    private static async Task<JsonObject> VerifyAsync(JsonObject body, string nonce)
    {
        var input = new JsonObject { ["attestation"] = body.DeepClone(), ["nonce"] = nonce };
        var result = await Node.RunAsync("verify-attestation.mjs", stdin: input.ToJsonString());
        Assert.True(result.ExitCode == 0, result.Stderr);
        return (JsonObject)JsonNode.Parse(result.Stdout)!;
    }
}
