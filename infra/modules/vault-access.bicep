// The app's one role on one Key Vault, deployed in the vault's resource group.
//
// Which built-in role (the vault must use the Azure RBAC permission model):
//  - backup only: "Key Vault Crypto User" (keys/read + keys/backup/action; it also allows the
//    cryptographic operations, but no built-in role grants less and still allows backup);
//  - backup and restore: "Key Vault Crypto Officer" (keys/*), the only built-in role below Key Vault
//    Administrator that includes keys/restore/action. It also allows delete and purge: the app never
//    purges unless a restore request says so, but the role does not enforce that.
// A custom role with exactly keys/read, keys/backup/action, keys/restore/action and deletedKeys/read
// narrows this further where a custom role is allowed (docs/operations.md).

@description('Name of an existing Key Vault in this resource group.')
param vaultName string

@description('Object id of the Function App identity.')
param principalId string

param allowRestore bool

var cryptoUser = '12338af0-0e69-4776-bea7-57ae8d297424'
var cryptoOfficer = '14b46e9e-c2b7-41b4-b07b-48a6ebf60603'
var roleId = allowRestore ? cryptoOfficer : cryptoUser

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleDefinitionId string = roleId
