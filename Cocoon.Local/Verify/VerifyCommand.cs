using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;
using Cocoon.Ledger.Ton;
using Cocoon.Local.Up;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Local.Verify;

/// <summary>
/// <c>./cocoon verify ID</c>: checks one answer's receipt from outside the gateway's trust (<see cref="ReceiptCheck"/>):
/// the receipt comes from <c>GET /v1/receipts/{id}</c>, the policy from <c>GET /v1/attestation/policy</c>, the request
/// and answer from what <c>ask</c> saved under COCOON_DATA, and the root from the anchor's transaction as the chain
/// API reports it. Prints ✔ or ✘ with the reason per check; exits 1 when any check fails.
/// </summary>
internal static class VerifyCommand
{
    /// <summary>Where `up` writes the local chain's API URL (its port changes every run).</summary>
    public const string ChainUrlFile = "ton-api-url";

    private const string AnswersFolder = "answers";

    public static async Task SaveAsync(string receiptId, byte[] canonicalRequest, string answer, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(CocoonEnvironment.DataDirPath(new ConfigurationBuilder().AddCocoonEnvironment().Build()), AnswersFolder);
        Directory.CreateDirectory(dir);
        var name = SafeName(receiptId);
        await File.WriteAllBytesAsync(Path.Combine(dir, name + ".request.json"), canonicalRequest, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(dir, name + ".answer.txt"), answer, cancellationToken);
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? chainUrl = null, id = null;
        const string usage = "usage: ./cocoon verify [--chain URL] ID   (ask prints the ID; --chain names a toncenter v2 API to read the anchor from)";
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--chain" && i + 1 < args.Length && Uri.TryCreate(args[i + 1], UriKind.Absolute, out var chain) && chain.Scheme is "http" or "https")
            {
                chainUrl = args[++i];
            }
            else if (args[i] is "-h" or "--help")
            {
                await Console.Error.WriteLineAsync(usage);
                return 0;
            }
            else if (args[i].StartsWith('-') || id is not null)
            {
                // --chain without a URL, an unknown option or a second ID: never fetched as a receipt ID.
                await Console.Error.WriteLineAsync($"cocoon verify: {(args[i] == "--chain" ? "--chain needs an http(s) URL" : id is null ? $"unknown option {args[i]}" : $"one ID at a time, not '{id}' and '{args[i]}'")}. {usage}");
                return 2;
            }
            else
            {
                id = args[i];
            }
        }

        if (id is null)
        {
            await Console.Error.WriteLineAsync(usage);
            return 2;
        }

        var configuration = new ConfigurationBuilder().AddCocoonEnvironment().Build();
        var dataDir = CocoonEnvironment.DataDirPath(configuration);
        var url = configuration["Gateway:Url"] is { Length: > 0 } u ? u : CocoonEnvironment.DefaultHttp;
        var key = configuration["Gateway:ApiKey"] ?? LocalDataFolder.ReadSavedApiKey(dataDir);
        chainUrl ??= configuration["Ton:ApiUrl"] is { Length: > 0 } t ? t : ReadIfExists(Path.Combine(dataDir, ChainUrlFile));
        using var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/") };
        if (!string.IsNullOrEmpty(key))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        JsonObject document, policy;
        try
        {
            document = await GetJsonAsync(http, "v1/receipts/" + Uri.EscapeDataString(id), cancellationToken);
            policy = await GetJsonAsync(http, "v1/attestation/policy", cancellationToken);
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"✘ could not fetch the receipt or the policy from {url}: {e.Message}");
            return 1;
        }

        var answers = Path.Combine(dataDir, AnswersFolder, SafeName(id));
        var request = File.Exists(answers + ".request.json") ? await File.ReadAllBytesAsync(answers + ".request.json", cancellationToken) : null;
        var answer = File.Exists(answers + ".answer.txt") ? await File.ReadAllTextAsync(answers + ".answer.txt", cancellationToken) : null;
        var (root, chainNote) = await ReadChainRootAsync(document, chainUrl, cancellationToken);
        var results = ReceiptCheck.Run(document, PublishedPolicy.FromJson(policy), request, answer, root);
        return await PrintAsync(results, chainNote);
    }

    internal static async Task<int> PrintAsync(IReadOnlyList<ReceiptCheckResult> results, string? chainNote)
    {
        foreach (var r in results)
        {
            await Console.Out.WriteLineAsync($"{(r.Ok ? "✔" : "✘")} {r.Name}: {r.Detail}");
        }

        if (chainNote is not null)
        {
            await Console.Out.WriteLineAsync("  " + chainNote);
        }

        return results.All(r => r.Ok) ? 0 : 1;
    }

    /// <summary>The root carried by the anchor's transaction, read from the chain API (not from the gateway's document).</summary>
    internal static async Task<(byte[]? Root, string? Note)> ReadChainRootAsync(JsonObject document, string? chainUrl, CancellationToken cancellationToken)
    {
        if (document["anchor"]?["transaction"] is not JsonObject tx)
        {
            return (null, document["anchor"] is null ? null : "the anchor's transaction is not on chain yet");
        }

        if (chainUrl is null)
        {
            return (null, "no chain API, so the anchor's root was not read from TON: pass --chain URL (a toncenter v2 API of the network's chain; ./cocoon up's local chain is found by itself)");
        }

        var account = TonAddress.Parse(tx["account"]!.GetValue<string>());
        var lt = long.Parse(tx["lt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var hash = tx["hash"]!.GetValue<string>();
        using var http = new HttpClient { BaseAddress = new Uri(chainUrl.TrimEnd('/') + "/") };
        var found = (await new ToncenterClient(http).GetTransactionsAsync(account, lt, lt, 10, 0, ascending: true, cancellationToken))
            .FirstOrDefault(t => t.Hash == hash);
        if (found is null)
        {
            return (null, $"transaction {hash} (lt {lt}) of {account.ToRaw()} is not on the chain at {chainUrl}");
        }

        var root = found.OutMessages.Select(m => ReceiptRootMessage.TryReadRoot(m.BodyBoc)).FirstOrDefault(r => r is not null);
        return (root, $"chain: transaction {hash} (lt {lt}) of {account.ToRaw()}" + (root is null ? " carries no root" : $", root {Convert.ToHexStringLower(root)}"));
    }

    internal static async Task<JsonObject> GetJsonAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(path, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {text}");
        }

        return (JsonObject)JsonNode.Parse(text)!;
    }

    private static string? ReadIfExists(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
