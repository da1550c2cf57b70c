using Cocoon.Worker.Attestation;
using Cocoon.Worker.Hosting;

namespace Cocoon.Worker.Cli;

/// <summary>
/// platform-key: prints the simulated TEE's platform public key (hex), creating it under COCOON_DATA/tee on first use.
/// A gateway that should trust this machine's simulated workers lists it in Gateway:TrustedSimulatedPlatformKeys.
/// </summary>
internal static class PlatformKeyCommand
{
    public static Task<int> RunAsync(string[] args) => CliSupport.GuardAsync(cancellationToken =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (args.Length > 0)
        {
            Console.Error.WriteLine($"cocoon: error: platform-key takes no arguments (got '{string.Join(' ', args)}')");
            return Task.FromResult(2);
        }

        var configuration = CliSupport.Configuration(new Dictionary<string, string?>());
        var key = SimulatedTeeProvider.ReadPlatformPublicKey(WorkerHostingExtensions.SimulatedPlatformDirectory(configuration));
        Console.WriteLine(Convert.ToHexStringLower(key));
        return Task.FromResult(0);
    });
}
