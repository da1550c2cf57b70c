using Cocoon.Worker.Hosting;

namespace Cocoon.Worker.Cli;

/// <summary>
/// provider keygen [--key PATH] [--rotate]: the provider's own Ed25519 key. Makes it when there is none (owner-only file,
/// COCOON_PROVIDER_KEY or provider.key in the data folder), or with --rotate replaces it; prints the public key and the
/// bot command that registers it. Without --rotate an existing key is kept and shown again.
/// </summary>
internal static class ProviderCommand
{
    public static Task<int> RunAsync(string[] args) => CliSupport.GuardAsync(cancellationToken =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (args.FirstOrDefault() != "keygen")
        {
            Console.Error.WriteLine("usage: ./cocoon provider keygen [--key PATH] [--rotate]");
            return Task.FromResult(2);
        }

        var overrides = new Dictionary<string, string?>();
        var rotate = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--key" when i + 1 < args.Length:
                    overrides["Worker:ProviderKey"] = args[++i];
                    break;
                case "--rotate":
                    rotate = true;
                    break;
                default:
                    Console.Error.WriteLine($"cocoon: error: provider keygen does not know '{args[i]}' (usage: ./cocoon provider keygen [--key PATH] [--rotate])");
                    return Task.FromResult(2);
            }
        }

        var path = ProviderKeyFile.PathFor(CliSupport.Configuration(overrides));
        var existed = File.Exists(path);
        using var key = existed && !rotate ? ProviderKeyFile.Read(path) : ProviderKeyFile.Create(path);
        Console.WriteLine(existed && !rotate
            ? $"Your provider key is in {path} (kept; --rotate makes a new one)."
            : $"Made a new provider key in {path} (only you can read it; keep it on this machine).");
        Console.WriteLine($"Public key: {key.PublicKeyHex}");
        Console.WriteLine("Register it with the network: send this to the bot:");
        Console.WriteLine($"/provider key {key.PublicKeyHex}");
        Console.WriteLine(rotate && existed
            ? "Workers certified by the old key are refused once you send it; restart them here (./cocoon worker) to sign with the new one."
            : "Workers started with this data folder (or COCOON_PROVIDER_KEY pointing at the file) certify their keys with it.");
        return Task.FromResult(0);
    });
}
