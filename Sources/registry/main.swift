import RegistryCLI

await RegistryCommand.runFromCommandLine()
